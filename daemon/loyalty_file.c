/* loyalty_file.c -- [loyalty] program_file: at start and on SIGHUP (loop thread) the file's
 * JSON is converted to msgpack and decoded by loyalty.program.set's own decoder; when the
 * file's SHA-256 differs from the one recorded with the stored program, an internal
 * loyalty.program.set job carries it to the writer, which records the hash in the same
 * transaction. Invariants: an unchanged file submits nothing (no version bump, no
 * re-evaluation); a bad file is logged with its path and field and changes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "contract.h"
#include "daemon.h"
#include "json_msgpack.h"
#include "log.h"

#define PROGRAM_FILE_MAX (4u << 20)

/* The whole file into a malloc'd buffer (*n bytes); NULL with a message in err. */
static char *read_whole(const char *path, size_t *n, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "cannot open: %m");
    return NULL;
  }
  char *buf = malloc(PROGRAM_FILE_MAX + 1);
  size_t got = buf ? fread(buf, 1, PROGRAM_FILE_MAX + 1, f) : 0;
  int bad = !buf || ferror(f) || got > PROGRAM_FILE_MAX;
  fclose(f);
  if (bad) {
    snprintf(err, errlen, buf ? "unreadable or over %u bytes" : "out of memory", PROGRAM_FILE_MAX);
    free(buf);
    return NULL;
  }
  *n = got;
  return buf;
}

static int sha256_hex(const char *p, size_t n, char out[65]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdlen = 0;
  if (!EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) return -1;
  for (unsigned i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
  return 0;
}

/* The hash recorded with the stored program ("" when none); -1 on a store error. */
static int recorded_hash(daemon_t *d, char out[65]) {
  store_txn_t *t;
  perr_info_t e;
  if (store_txn_begin(d->store, 0, &t)) return -1;
  int rc = loyalty_program_source_get(t, out, &e);
  store_abort(t);
  return rc ? -1 : 0;
}

void loyalty_program_file_sync(daemon_t *d) {
  CONTRACT_THREAD(THREAD_LOOP);
  const char *path = d->cfg.loyalty_program_file;
  if (!path[0]) return;
  char err[200], hex[65], stored[65];
  size_t n = 0;
  char *buf = read_whole(path, &n, err, sizeof err);
  if (!buf) {
    log_err("loyalty.program_file %s: %s; the running program stays", path, err);
    return;
  }
  json_error_t je;
  json_t *doc = json_loadb(buf, n, 0, &je);
  int hashed = sha256_hex(buf, n, hex);
  free(buf);
  if (!doc) {
    log_err("loyalty.program_file %s: line %d: %s; the running program stays", path, je.line,
            je.text);
    return;
  }
  wjob_t *j = job_new(METHOD_loyalty_program_set, 0);
  msgpack_object params;
  msgpack_zone *zone = NULL;
  if (!j || hashed || json_to_msgpack(doc, &params, &zone)) {
    json_decref(doc);
    if (j) job_free(j);
    log_err("loyalty.program_file %s: out of memory; the running program stays", path);
    return;
  }
  json_decref(doc);
  j->zone = zone; /* the decoded strings point into it; job_free frees it */
  perr_info_t e = {0};
  if (method_table[METHOD_loyalty_program_set].decode(&params, &j->arena, j->params, &e)) {
    log_err("loyalty.program_file %s: field %s: %s; the running program stays", path,
            e.field[0] ? e.field : "(params)", e.message);
    job_free(j);
    return;
  }
  if (recorded_hash(d, stored)) {
    log_err("loyalty.program_file %s: cannot read the store; the running program stays", path);
    job_free(j);
    return;
  }
  if (strcmp(stored, hex) == 0) {
    log_info("loyalty.program_file %s: unchanged (sha256 %s)", path, hex);
    job_free(j);
    return;
  }
  loy_program_params_t *w = j->params;
  char *h = arena_alloc(&j->arena, sizeof hex);
  if (h) memcpy(h, hex, sizeof hex);
  w->source_sha256 = h;
  if (!h || d->stopping || !d->writer || jobq_submit(d->writer, j)) {
    log_err("loyalty.program_file %s: cannot queue the change; the running program stays", path);
    job_free(j);
  }
}

void loyalty_program_file_applied(daemon_t *d, wjob_t *j) {
  const loy_program_params_t *w = j->params;
  if (!w->source_sha256) return;
  if (j->rc)
    log_err("loyalty.program_file %s: field %s: %s; the running program stays",
            d->cfg.loyalty_program_file, j->err.field[0] ? j->err.field : "(params)",
            j->err.message);
  else
    log_notice("loyalty.program_file %s: program version %u (sha256 %s)",
               d->cfg.loyalty_program_file,
               (unsigned)((const loy_program_set_result_t *)j->result)->version, w->source_sha256);
}

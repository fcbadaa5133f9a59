/* recs_client.h -- tiny blocking msgpack-RPC client and patrond launcher shared by the
 * recommendation benchmarks (recs_eval_socket.c, recs_load_synth.c): requests are packed with
 * msgpack-c into one buffer, written in one go (pipelining), and the answers read back in
 * order. Header-only (each bench .c file is its own executable).
 * Invariant: rc_read returns answers in the order the daemon sent them; callers that pipeline
 * only writes (answered in commit order) or only reads (answered in arrival order) can count
 * them without matching msgids. */
#ifndef PATRON_BENCH_RECS_CLIENT_H
#define PATRON_BENCH_RECS_CLIENT_H

#include <errno.h>
#include <msgpack.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct rc_conn_s {
  int fd;
  uint32_t next_id;
  msgpack_unpacker up;
  msgpack_unpacked msg;
  msgpack_sbuffer sb;
  msgpack_packer pk;
} rc_conn_t;

static double rc_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static int rc_connect(rc_conn_t *c, const char *path) {
  memset(c, 0, sizeof(*c));
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    return -1;
  }
  msgpack_unpacker_init(&c->up, 1 << 16);
  msgpack_unpacked_init(&c->msg);
  msgpack_sbuffer_init(&c->sb);
  msgpack_packer_init(&c->pk, &c->sb, msgpack_sbuffer_write);
  return 0;
}

static void rc_close(rc_conn_t *c) {
  if (c->fd < 0) return;
  close(c->fd);
  c->fd = -1;
  msgpack_unpacked_destroy(&c->msg);
  msgpack_unpacker_destroy(&c->up);
  msgpack_sbuffer_destroy(&c->sb);
}

static void rc_pk_str(msgpack_packer *pk, const char *s, size_t n) {
  msgpack_pack_str(pk, n);
  msgpack_pack_str_body(pk, s, n);
}
#define RC_KEY(pk, lit) rc_pk_str(pk, lit, sizeof(lit) - 1)

/* [0, id, method, [ -- the caller packs exactly one params map next. */
static void rc_request(rc_conn_t *c, const char *method) {
  msgpack_pack_array(&c->pk, 4);
  msgpack_pack_uint8(&c->pk, 0);
  msgpack_pack_uint32(&c->pk, c->next_id++);
  rc_pk_str(&c->pk, method, strlen(method));
  msgpack_pack_array(&c->pk, 1);
}

static int rc_flush(rc_conn_t *c) {
  size_t off = 0;
  while (off < c->sb.size) {
    ssize_t w = write(c->fd, c->sb.data + off, c->sb.size - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    off += (size_t)w;
  }
  c->sb.size = 0;
  return 0;
}

/* Next answer: 0 with *result, 1 with an error message in err, -1 on I/O or shape errors.
 * *result lives until the next rc_read. */
static int rc_read(rc_conn_t *c, const msgpack_object **result, char *err, size_t errlen) {
  for (;;) {
    msgpack_unpack_return r = msgpack_unpacker_next(&c->up, &c->msg);
    if (r == MSGPACK_UNPACK_SUCCESS) break;
    if (r != MSGPACK_UNPACK_CONTINUE) return -1;
    if (!msgpack_unpacker_reserve_buffer(&c->up, 1 << 16)) return -1;
    ssize_t n = read(c->fd, msgpack_unpacker_buffer(&c->up), msgpack_unpacker_buffer_capacity(&c->up));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    msgpack_unpacker_buffer_consumed(&c->up, (size_t)n);
  }
  const msgpack_object *o = &c->msg.data;
  if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4) return -1;
  const msgpack_object *e = &o->via.array.ptr[2];
  if (e->type != MSGPACK_OBJECT_NIL) {
    snprintf(err, errlen, "rpc error");
    if (e->type == MSGPACK_OBJECT_MAP)
      for (uint32_t i = 0; i < e->via.map.size; i++) {
        const msgpack_object *k = &e->via.map.ptr[i].key, *v = &e->via.map.ptr[i].val;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == 7 &&
            !memcmp(k->via.str.ptr, "message", 7) && v->type == MSGPACK_OBJECT_STR)
          snprintf(err, errlen, "%.*s", (int)v->via.str.size, v->via.str.ptr);
      }
    return 1;
  }
  *result = &o->via.array.ptr[3];
  return 0;
}

/* The value of key in a map object, or NULL. */
static const msgpack_object *rc_get(const msgpack_object *m, const char *key) {
  if (!m || m->type != MSGPACK_OBJECT_MAP) return NULL;
  size_t n = strlen(key);
  for (uint32_t i = 0; i < m->via.map.size; i++) {
    const msgpack_object *k = &m->via.map.ptr[i].key;
    if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && !memcmp(k->via.str.ptr, key, n))
      return &m->via.map.ptr[i].val;
  }
  return NULL;
}

static int64_t rc_int(const msgpack_object *o) {
  if (!o) return -1;
  if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) return (int64_t)o->via.u64;
  if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) return o->via.i64;
  return -1;
}

/* ---- a patrond started here (temp data dir, sockets inside it), stopped by PID ---- */
typedef struct rc_daemon_s {
  pid_t pid;
  char dir[200], sock[300], admin[300];
} rc_daemon_t;

/* extra: NULL-terminated "--set" values ("recs.similarity=cosine", ...). */
static int rc_daemon_start(rc_daemon_t *d, const char *binary, const char *const *extra) {
  memset(d, 0, sizeof(*d));
  snprintf(d->dir, sizeof d->dir, "/tmp/patron-recs.XXXXXX");
  if (!mkdtemp(d->dir)) return -1;
  snprintf(d->sock, sizeof d->sock, "%s/p.sock", d->dir);
  snprintf(d->admin, sizeof d->admin, "%s/a.sock", d->dir);
  char data[320], logf[320];
  snprintf(data, sizeof data, "%s/data", d->dir);
  snprintf(logf, sizeof logf, "%s/patrond.log", d->dir);
  const char *argv[64];
  int n = 0;
  argv[n++] = binary;
  argv[n++] = "--socket"; argv[n++] = d->sock;
  argv[n++] = "--admin-socket"; argv[n++] = d->admin;
  argv[n++] = "--data-dir"; argv[n++] = data;
  argv[n++] = "--foreground";
  argv[n++] = "--no-config"; /* benchmarks never read the host's /etc/patron/patrond.conf */
  for (int i = 0; extra && extra[i] && n < 60; i++) {
    argv[n++] = "--set";
    argv[n++] = extra[i];
  }
  argv[n] = NULL;
  d->pid = fork();
  if (d->pid < 0) return -1;
  if (d->pid == 0) {
    FILE *f = freopen(logf, "a", stdout);
    if (f) dup2(fileno(stdout), 2);
    execv(binary, (char *const *)argv);
    _exit(127);
  }
  for (int i = 0; i < 600; i++) { /* up to 60 s */
    rc_conn_t c;
    if (rc_connect(&c, d->sock) == 0) {
      rc_close(&c);
      return 0;
    }
    int st;
    if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
      d->pid = 0;
      return -1;
    }
    usleep(100000);
  }
  return -1;
}

static int rc_daemon_stop(rc_daemon_t *d) {
  int st = 0;
  if (d->pid > 0) {
    kill(d->pid, SIGTERM);
    waitpid(d->pid, &st, 0);
    d->pid = 0;
  }
  if (d->dir[0]) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", d->dir);
    d->dir[0] = 0;
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* model.refit of "recs" on the admin socket: took_ms, or -1 (message in err). */
static int64_t rc_refit(const char *admin, char *err, size_t errlen) {
  rc_conn_t c;
  if (rc_connect(&c, admin)) {
    snprintf(err, errlen, "cannot connect to the admin socket");
    return -1;
  }
  rc_request(&c, "model.refit");
  msgpack_pack_map(&c.pk, 1);
  RC_KEY(&c.pk, "models");
  msgpack_pack_array(&c.pk, 1);
  RC_KEY(&c.pk, "recs");
  const msgpack_object *res;
  int64_t took = -1;
  if (rc_flush(&c) == 0 && rc_read(&c, &res, err, errlen) == 0) {
    const msgpack_object *ms = rc_get(res, "models");
    if (ms && ms->type == MSGPACK_OBJECT_ARRAY && ms->via.array.size == 1) {
      const msgpack_object *st = rc_get(&ms->via.array.ptr[0], "status");
      if (st && st->type == MSGPACK_OBJECT_STR && st->via.str.size == 5 && !memcmp(st->via.str.ptr, "ready", 5))
        took = rc_int(rc_get(&ms->via.array.ptr[0], "took_ms"));
      else
        snprintf(err, errlen, "recs model not ready after refit");
    }
  }
  rc_close(&c);
  return took;
}

#endif

/* store_models.c -- the parts of store_models.h every build has: the snapshot checksum
 * (SHA-256 through OpenSSL, as PostgreSQL's sha256() computes it), and, in a build without
 * PostgreSQL, a store_models_open that says there is no channel (the rest is never reached:
 * without a channel nobody calls it). The PostgreSQL side is store_pg_models.c. */
#include <openssl/evp.h>
#include <stdio.h>

#include "store/store_models.h"

void store_models_checksum(const void *bytes, size_t n, char out[STORE_MODELS_SUM_LEN + 1]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  out[0] = 0;
  if (!EVP_Digest(bytes, n, md, &len, EVP_sha256(), NULL)) return;
  for (unsigned int i = 0; i < len && 2 * i + 2 <= STORE_MODELS_SUM_LEN; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
}

#ifndef PATRON_POSTGRESQL
int store_models_open(store_t *s, store_models_t **out, perr_info_t *e) {
  (void)s;
  *out = NULL;
  return perr_set(e, PERR_NOT_FOUND, NULL, "an embedded store has no model leader");
}
void store_models_close(store_models_t *m) { (void)m; }
int store_models_lead(store_models_t *m, int *leader, perr_info_t *e) {
  (void)m;
  *leader = 0;
  return perr_set(e, PERR_UNAVAILABLE, NULL, "built without PostgreSQL");
}
int store_models_heads(store_models_t *m, store_model_head_t *heads, size_t max, size_t *n,
                       perr_info_t *e) {
  (void)m; (void)heads; (void)max;
  *n = 0;
  return perr_set(e, PERR_UNAVAILABLE, NULL, "built without PostgreSQL");
}
int store_models_fetch(store_models_t *m, const char *kind, uint64_t version,
                       unsigned char **bytes, size_t *n, perr_info_t *e) {
  (void)m; (void)kind; (void)version;
  *bytes = NULL;
  *n = 0;
  return perr_set(e, PERR_UNAVAILABLE, NULL, "built without PostgreSQL");
}
int store_models_publish(store_models_t *m, const char *kind, uint64_t version,
                         const void *bytes, size_t n, int clear_mark,
                         char checksum[STORE_MODELS_SUM_LEN + 1], perr_info_t *e) {
  (void)m; (void)kind; (void)version; (void)bytes; (void)n; (void)clear_mark; (void)checksum;
  return perr_set(e, PERR_UNAVAILABLE, NULL, "built without PostgreSQL");
}
int store_models_mark(store_models_t *m, const char *kind, int building, perr_info_t *e) {
  (void)m; (void)kind; (void)building;
  return perr_set(e, PERR_UNAVAILABLE, NULL, "built without PostgreSQL");
}
int store_models_marked(store_models_t *m, char (*kinds)[32], size_t max, size_t *n,
                        perr_info_t *e) {
  (void)m; (void)kinds; (void)max;
  *n = 0;
  return perr_set(e, PERR_UNAVAILABLE, NULL, "built without PostgreSQL");
}
int store_models_leader(store_models_t *m, char *buf, size_t len, perr_info_t *e) {
  (void)m; (void)len;
  buf[0] = 0;
  return perr_set(e, PERR_UNAVAILABLE, NULL, "built without PostgreSQL");
}
int store_models_wait(store_models_t *m, int timeout_ms) {
  (void)m; (void)timeout_ms;
  return 0;
}
void store_models_wake(store_models_t *m) { (void)m; }
#endif

/* store_fixture.h -- what the core's cmocka tests share: a real LMDB store in a temp dir with
 * one write transaction open (fx_t, fx_setup/fx_teardown), and a byte dump of every table to
 * prove that a failing call changed nothing (dump, assert_same_dump). Header-only, included
 * by test_*.c files after <cmocka.h>. */
#ifndef PATRON_TEST_STORE_FIXTURE_H
#define PATRON_TEST_STORE_FIXTURE_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commerce/commerce.h"

typedef struct fx_s {
  char dir[64];
  store_t *s;
  store_txn_t *w; /* current write txn */
  arena_t a;
} fx_t;

static inline void fx_open_store(fx_t *f) {
  store_options_t o;
  store_options_default(&o);
  o.no_sync = 1;
  perr_info_t e = {0};
  assert_int_equal(store_open(f->dir, &o, &f->s, &e), 0);
}

/* dir_template: a mkdtemp template such as "/tmp/patron-core-XXXXXX". */
static inline int fx_setup(void **state, const char *dir_template) {
  fx_t *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "%s", dir_template);
  assert_non_null(mkdtemp(f->dir));
  fx_open_store(f);
  assert_int_equal(store_txn_begin(f->s, 1, &f->w), 0);
  arena_init(&f->a, 0);
  *state = f;
  return 0;
}

/* Remove a test's store directory: the store's files and whatever the test wrote there. */
static inline void fx_remove_dir(const char *path) {
  DIR *dir = opendir(path);
  for (struct dirent *de; dir && (de = readdir(dir));) {
    if (de->d_name[0] == '.') continue;
    char p[128 + 256];
    snprintf(p, sizeof p, "%s/%s", path, de->d_name);
    unlink(p);
  }
  if (dir) closedir(dir);
  rmdir(path);
}

static inline int fx_teardown(void **state) {
  fx_t *f = *state;
  if (f->w) store_abort(f->w);
  store_close(f->s);
  fx_remove_dir(f->dir);
  arena_free(&f->a);
  free(f);
  return 0;
}

/* An order of n lines (borrowed). */
static inline order_t fx_mk_order(const char *id, const char *cust, const char *cur, int64_t ts,
                                  order_line_t *lines, size_t n) {
  order_t o = {0};
  o.order_id = (pstr_t){id, strlen(id)};
  o.customer_id = (pstr_t){cust, strlen(cust)};
  o.currency = (pstr_t){cur, strlen(cur)};
  o.ts = ts;
  o.lines = lines;
  o.nlines = n;
  return o;
}

/* Record an order in the open write txn: one line per product (quantity 1 at price); see
 * fx_commit to make it visible to read transactions. */
static inline void fx_order(fx_t *f, const char *id, const char *cust, const char *cur, int64_t ts,
                            const char *const *products, size_t n, int64_t price) {
  order_line_t lines[16];
  assert_true(n >= 1 && n <= 16);
  for (size_t i = 0; i < n; i++)
    lines[i] = (order_line_t){{products[i], strlen(products[i])}, 1, price};
  order_t o = fx_mk_order(id, cust, cur, ts, lines, n);
  order_result_t r;
  perr_info_t e = {0};
  assert_int_equal(core_order_record(f->w, &o, ts, &r, &e), 0);
}

/* Commit the write txn and open a new one. */
static inline void fx_commit(fx_t *f) {
  perr_info_t e = {0};
  assert_int_equal(store_commit_err(f->w, &e), 0);
  assert_int_equal(store_txn_begin(f->s, 1, &f->w), 0);
}

/* A file's bytes (malloc'd) and length. */
static inline unsigned char *fx_read_file(const char *path, size_t *n) {
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  long len = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  unsigned char *b = malloc(len > 0 ? (size_t)len : 1);
  assert_int_equal(fread(b, 1, (size_t)len, fp), (size_t)len);
  fclose(fp);
  *n = (size_t)len;
  return b;
}

static inline void fx_write_file(const char *path, const unsigned char *b, size_t n) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(b, 1, n, fp), n);
  fclose(fp);
}

/* Damage a copy of the file at path, written to bad, in every way worth trying, and call
 * refused(bad, what) after each (what: "flipped" or "truncated"): one bit flipped in each of
 * the first hdr bytes, the last 64, and every 7th byte between (each try writes a file: the
 * middle is sampled), then the file cut at the same lengths. */
static inline void fx_damage_each(const char *path, const char *bad, size_t hdr,
                                  void (*refused)(const char *bad, const char *what)) {
  size_t n;
  unsigned char *b = fx_read_file(path, &n);
#define FX_STEP(i) ((i) < hdr || (i) + 64 >= n ? 1u : 7u)
  for (size_t i = 0; i < n; i += FX_STEP(i)) {
    b[i] ^= 0x10;
    fx_write_file(bad, b, n);
    b[i] ^= 0x10;
    refused(bad, "flipped");
  }
  for (size_t len = 0; len < n; len += FX_STEP(len)) {
    fx_write_file(bad, b, len);
    refused(bad, "truncated");
  }
#undef FX_STEP
  fx_write_file(bad, b, n); /* leaves an intact copy at bad */
  free(b);
}

/* Every table's keys and values, length-prefixed and concatenated. */
typedef struct dump_s {
  unsigned char *p;
  size_t n;
} dump_t;

static inline void dump_add(dump_t *d, const void *p, size_t n) {
  d->p = realloc(d->p, d->n + n + sizeof n);
  memcpy(d->p + d->n, &n, sizeof n);
  if (n) memcpy(d->p + d->n + sizeof n, p, n);
  d->n += n + sizeof n;
}

static inline dump_t dump(store_txn_t *t) {
  dump_t d = {NULL, 0};
  for (int tb = 0; tb < STORE_T__COUNT; tb++) {
    store_cursor_t *c;
    assert_int_equal(store_cursor_open(t, (store_table_t)tb, NULL, 0, &c), 0);
    const void *k, *v;
    size_t kn, vn;
    dump_add(&d, "T", 1);
    while (store_cursor_next(c, &k, &kn, &v, &vn) == 1) {
      dump_add(&d, k, kn);
      dump_add(&d, v, vn);
    }
    store_cursor_close(c);
  }
  return d;
}

/* Equal dumps; frees both. */
static inline void assert_same_dump(dump_t a, dump_t b) {
  assert_int_equal(a.n, b.n);
  assert_memory_equal(a.p, b.p, a.n);
  free(a.p);
  free(b.p);
}

#endif

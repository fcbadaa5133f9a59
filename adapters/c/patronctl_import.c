/* patronctl_import.c -- `patronctl import orders|customers|products FILE`: bulk load.
 *
 * Owns: reading NDJSON and the CSV records of patronctl_csv.c, mapping CSV columns by
 * name to the write methods' params (docs/OPERATIONS.md "Bulk import" lists the mapping),
 * pipelining the writes over one connection with a bounded window, the progress display,
 * and the bad-row report. Invariants: a bad row is reported as FILE:LINE: field: message
 * and never stops the import (unless --max-errors is passed); an order whose lines are not
 * all valid is not sent at all (an order is recorded as given or not at all); every write
 * is idempotent on its key (order_id, customer_id, product_id), so re-running the same
 * command after an interruption resumes it; amounts become integer minor units with the
 * currency's ISO-4217 exponent without floating point.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <msgpack.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "patronclient.h"
#include "patronctl_csv.h"
#include "patronctl_pipe.h"
#include "patronctl_util.h"

int patronctl_import(const char *sock, int timeout_ms, int json_out, int argc, char **argv);

enum { KIND_ORDERS, KIND_CUSTOMERS, KIND_PRODUCTS };
enum { FMT_CSV, FMT_NDJSON };
enum { MAX_LINES = 1000 };

/* Columns, by the name in the header (case-insensitive; the second name is an alias, the
 * Online Retail file's). */
enum {
  C_ORDER_ID, C_CUSTOMER_ID, C_TS, C_CURRENCY, C_PRODUCT_ID, C_QUANTITY, C_UNIT_PRICE,
  C_DISCOUNT, C_SHIPPING, C_TAX, C_EMAIL, C_NAME, C_CREATED_AT, C_CATEGORY, C_PRICE,
  C_STOCK, C_MARGIN, C_ACTIVE, C__N
};
static const char *const col_names[C__N][2] = {
    {"order_id", "InvoiceNo"},  {"customer_id", "CustomerID"}, {"ts", "InvoiceDate"},
    {"currency", NULL},         {"product_id", "StockCode"},   {"quantity", "Quantity"},
    {"unit_price", "UnitPrice"}, {"discount", NULL},           {"shipping", NULL},
    {"tax", NULL},              {"email", NULL},               {"name", "Description"},
    {"created_at", NULL},       {"category", NULL},            {"price", NULL},
    {"stock", NULL},            {"margin", NULL},              {"active", NULL}};

typedef struct line_item {
  fld_t product;
  int64_t qty, price;
} line_item_t;

typedef struct pending {
  long line;
  char key[48];
} pending_t;

typedef struct importer {
  const char *file, *method;
  int kind, fmt, json_out, progress_tty, quiet;
  csv_t in; /* the whole file and the current record */
  int col[C__N];
  const char *def_currency;
  /* the order being assembled */
  int have_order, order_bad;
  long order_line;
  fld_t oid, cid, cur, disc, ship, tax;
  int64_t ts;
  char cur_code[4];
  int cur_exp;     /* currency_exponent(cur_code) */
  char exp_of[4];  /* the code cur_exp was looked up for ("" = none yet) */
  line_item_t items[MAX_LINES];
  int nitems;
  /* pipeline */
  pipe_conn_t *pc;
  unsigned window, inflight;
  pending_t *pend;
  msgpack_sbuffer req;
  msgpack_packer pk;
  /* counters */
  long rows, rows_total, sent, created, unchanged, bad_rows, rejected, max_errors;
  double t0, last_progress, progress_every;
} importer_t;

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int too_many_errors(const importer_t *im) {
  return im->max_errors >= 0 && im->bad_rows + im->rejected > im->max_errors;
}

static void bad_row(importer_t *im, long line, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void bad_row(importer_t *im, long line, const char *field, const char *fmt, ...) {
  im->bad_rows++;
  if (im->progress_tty) fputs("\r\033[K", stderr);
  fprintf(stderr, "%s:%ld: %s: ", im->file, line, field);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* ---- input ------------------------------------------------------------------------ */

static int fld_eq(fld_t f, const char *s) {
  return f.n == strlen(s) && !strncasecmp(f.p, s, f.n);
}

static void map_header(importer_t *im) {
  for (int c = 0; c < C__N; c++) {
    im->col[c] = -1;
    for (int i = 0; i < im->in.nf && im->col[c] < 0; i++)
      for (int a = 0; a < 2; a++)
        if (col_names[c][a] && fld_eq(im->in.f[i], col_names[c][a])) im->col[c] = i;
  }
}

static fld_t get(const importer_t *im, int c) {
  int i = im->col[c];
  if (i < 0 || i >= im->in.nf) return (fld_t){"", 0};
  fld_t f = im->in.f[i];
  while (f.n && (f.p[0] == ' ' || f.p[0] == '\t')) f.p++, f.n--;
  while (f.n && (f.p[f.n - 1] == ' ' || f.p[f.n - 1] == '\t')) f.n--;
  return f;
}

/* Ids written as numbers by spreadsheets ("17850.0") lose the ".0". */
static fld_t id_field(fld_t f) {
  if (f.n > 2 && f.p[f.n - 2] == '.' && f.p[f.n - 1] == '0') {
    size_t k = 0;
    while (k < f.n - 2 && f.p[k] >= '0' && f.p[k] <= '9') k++;
    if (k == f.n - 2) f.n -= 2;
  }
  return f;
}

static int parse_int(fld_t f, int64_t lo, int64_t hi, int64_t *out) {
  int64_t v;
  if (decimal_to_minor(f.p, f.n, 0, &v) != 0 || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

static const char *money_error(int rc) {
  return rc == -2 ? "more decimals than the currency has" : rc == -3 ? "too large"
                                                                      : "not a decimal number";
}

/* ---- packing ---------------------------------------------------------------------- */

static void pk_str(msgpack_packer *pk, const char *s, size_t n) {
  msgpack_pack_str(pk, n);
  msgpack_pack_str_body(pk, s, n);
}
/* A key (< 32 bytes: a fixstr) as one write of its header and bytes. */
static void pk_key(msgpack_packer *pk, const char *k) {
  char b[32];
  size_t n = strlen(k);
  b[0] = (char)(0xa0 | n);
  memcpy(b + 1, k, n);
  msgpack_sbuffer_write(pk->data, b, n + 1);
}

/* The lines of an order are written straight into the request buffer (the msgpack-c packer
 * costs a call and a capacity check per token, and they are most of the bytes): each writer
 * below stores one msgpack item at w and returns the end. */
static unsigned char *mp_be(unsigned char *w, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; i--) *w++ = (unsigned char)(v >> (8 * i));
  return w;
}
static unsigned char *mp_uint(unsigned char *w, uint64_t v) { /* the smallest encoding */
  if (v < 128) {
    *w++ = (unsigned char)v;
    return w;
  }
  if (v < 256) return *w++ = 0xcc, mp_be(w, v, 1);
  if (v < 65536) return *w++ = 0xcd, mp_be(w, v, 2);
  if (v < 4294967296ull) return *w++ = 0xce, mp_be(w, v, 4);
  return *w++ = 0xcf, mp_be(w, v, 8);
}
static unsigned char *mp_str(unsigned char *w, const char *s, size_t n) {
  if (n < 32) *w++ = (unsigned char)(0xa0 | n);
  else if (n < 256) *w++ = 0xd9, w = mp_be(w, n, 1);
  else if (n < 65536) *w++ = 0xda, w = mp_be(w, n, 2);
  else *w++ = 0xdb, w = mp_be(w, n, 4);
  memcpy(w, s, n);
  return w + n;
}
static unsigned char *mp_key(unsigned char *w, const char *k, size_t n) { /* n < 32 */
  *w++ = (unsigned char)(0xa0 | n);
  memcpy(w, k, n);
  return w + n;
}
#define MP_KEY(w, lit) mp_key((w), lit, sizeof lit - 1)

/* Room for n more bytes in sb; 0 or -1 (out of memory). */
static int sb_reserve(msgpack_sbuffer *sb, size_t n) {
  if (sb->alloc - sb->size >= n) return 0;
  size_t cap = sb->alloc ? sb->alloc : 8192;
  while (cap - sb->size < n) cap *= 2;
  char *d = realloc(sb->data, cap);
  if (!d) return -1;
  sb->data = d;
  sb->alloc = cap;
  return 0;
}

/* "lines": [{product_id, quantity, unit_price}, ...] of the order being assembled. */
static int pack_lines(importer_t *im) {
  size_t need = 16;
  for (int i = 0; i < im->nitems; i++) need += 64 + im->items[i].product.n;
  if (sb_reserve(&im->req, need) != 0) return -1;
  unsigned char *w = (unsigned char *)im->req.data + im->req.size;
  w = MP_KEY(w, "lines");
  if (im->nitems < 16) *w++ = (unsigned char)(0x90 | im->nitems);
  else *w++ = 0xdc, w = mp_be(w, (uint64_t)im->nitems, 2); /* MAX_LINES < 65536 */
  for (int i = 0; i < im->nitems; i++) {
    const line_item_t *it = &im->items[i];
    *w++ = 0x83; /* a map of 3 */
    w = MP_KEY(w, "product_id");
    w = mp_str(w, it->product.p, it->product.n);
    w = MP_KEY(w, "quantity");
    w = mp_uint(w, (uint64_t)it->qty);   /* >= 1 */
    w = MP_KEY(w, "unit_price");
    w = mp_uint(w, (uint64_t)it->price); /* >= 0 */
  }
  im->req.size = (size_t)((char *)w - im->req.data);
  return 0;
}

/* ---- the pipeline ----------------------------------------------------------------- */

static void on_reply(importer_t *im, const pipe_reply_t *r) {
  pending_t *pd = &im->pend[r->msgid % im->window];
  im->inflight--;
  if (r->error) {
    char code[32], msg[256], field[128];
    pipe_copy_str(code, sizeof code, pipe_map_get(r->error, "code"));
    pipe_copy_str(msg, sizeof msg, pipe_map_get(r->error, "message"));
    pipe_copy_str(field, sizeof field, pipe_map_get(r->error, "field"));
    im->rejected++;
    if (im->progress_tty) fputs("\r\033[K", stderr);
    fprintf(stderr, "%s:%ld: %s: %s %s: %s\n", im->file, pd->line, field[0] ? field : "-",
            pd->key, code[0] ? code : "error", msg);
    return;
  }
  const msgpack_object *cr = pipe_map_get(r->result, "created");
  if (cr && cr->type == MSGPACK_OBJECT_BOOLEAN && !cr->via.boolean)
    im->unchanged++;
  else
    im->created++;
}

/* Wait for replies until at most `keep` requests are in flight. */
static int drain(importer_t *im, unsigned keep) {
  pipe_reply_t r;
  while (im->inflight > keep) {
    if (pipe_recv(im->pc, &r, 1) != 1) return -1;
    on_reply(im, &r);
  }
  return 0;
}

static int submit(importer_t *im, long line, fld_t key) {
  uint32_t id = pipe_send(im->pc, im->method, im->req.data, im->req.size);
  msgpack_sbuffer_clear(&im->req);
  pending_t *pd = &im->pend[id % im->window];
  pd->line = line;
  size_t n = key.n < sizeof pd->key - 1 ? key.n : sizeof pd->key - 1;
  memcpy(pd->key, key.p, n);
  pd->key[n] = '\0';
  im->sent++;
  if (++im->inflight >= im->window) return drain(im, im->window / 2);
  /* hand the daemon what is built so far, and take the answers already there, without
   * waiting: it works on the first orders while the next ones are parsed */
  if (pipe_flush_some(im->pc) != 0) return -1;
  if ((im->sent & 63) == 0) {
    pipe_reply_t r;
    int got;
    while ((got = pipe_recv(im->pc, &r, 0)) == 1) on_reply(im, &r);
    if (got < 0) return -1;
  }
  return 0;
}

/* ---- rows -> requests ------------------------------------------------------------- */

static int finish_order(importer_t *im) {
  if (!im->have_order) return 0;
  im->have_order = 0;
  if (im->order_bad || im->nitems == 0) return 0;
  int exp = im->cur_exp;
  int64_t extra[3];
  fld_t ef[3] = {im->disc, im->ship, im->tax};
  const char *en[3] = {"discount", "shipping", "tax"};
  int nextra = 0;
  for (int k = 0; k < 3; k++) {
    extra[k] = -1;
    if (!ef[k].n) continue;
    int rc = decimal_to_minor(ef[k].p, ef[k].n, exp, &extra[k]);
    if (rc != 0 || extra[k] < 0) {
      bad_row(im, im->order_line, en[k], "%s", rc ? money_error(rc) : "negative");
      return 0;
    }
    nextra++;
  }
  msgpack_packer *pk = &im->pk;
  msgpack_pack_map(pk, (size_t)(5 + nextra));
  pk_key(pk, "order_id");
  pk_str(pk, im->oid.p, im->oid.n);
  pk_key(pk, "customer_id");
  pk_str(pk, im->cid.p, im->cid.n);
  pk_key(pk, "ts");
  msgpack_pack_int64(pk, im->ts);
  pk_key(pk, "currency");
  pk_str(pk, im->cur_code, 3);
  if (pack_lines(im) != 0) {
    fprintf(stderr, "patronctl: out of memory\n");
    return -1;
  }
  for (int k = 0; k < 3; k++)
    if (extra[k] >= 0) {
      pk_key(pk, en[k]);
      msgpack_pack_int64(pk, extra[k]);
    }
  return submit(im, im->order_line, im->oid);
}

static int currency_of(importer_t *im, char out[4]) {
  fld_t c = get(im, C_CURRENCY);
  const char *s = c.n ? c.p : im->def_currency;
  size_t n = c.n ? c.n : (s ? strlen(s) : 0);
  if (n != 3) return -1;
  for (int i = 0; i < 3; i++) {
    if (s[i] < 'A' || s[i] > 'Z') return -1;
    out[i] = s[i];
  }
  out[3] = '\0';
  return 0;
}

static int order_row(importer_t *im) {
  long ln = im->in.rec_line;
  fld_t oid = get(im, C_ORDER_ID);
  if (!oid.n) {
    bad_row(im, ln, "order_id", "empty");
    return 0;
  }
  if (im->have_order && (oid.n != im->oid.n || memcmp(oid.p, im->oid.p, oid.n)))
    if (finish_order(im) != 0) return -1;
  if (!im->have_order) {
    im->have_order = 1;
    im->order_bad = 0;
    im->nitems = 0;
    im->order_line = ln;
    im->oid = oid;
    im->cid = id_field(get(im, C_CUSTOMER_ID));
    im->disc = get(im, C_DISCOUNT);
    im->ship = get(im, C_SHIPPING);
    im->tax = get(im, C_TAX);
    fld_t t = get(im, C_TS);
    if (!im->cid.n) im->order_bad = 1, bad_row(im, ln, "customer_id", "empty");
    if (parse_timestamp(t.p, t.n, &im->ts) != 0)
      im->order_bad = 1, bad_row(im, ln, "ts", "'%.*s' is not seconds or YYYY-MM-DD HH:MM:SS",
                                 (int)t.n, t.p);
    if (currency_of(im, im->cur_code) != 0)
      im->order_bad = 1, bad_row(im, ln, "currency", "missing or not an ISO-4217 code "
                                                     "(column currency or --currency)");
    if (memcmp(im->cur_code, im->exp_of, 4) != 0) { /* the table walk once per currency */
      im->cur_exp = currency_exponent(im->cur_code);
      memcpy(im->exp_of, im->cur_code, 4);
    }
  }
  line_item_t it = {get(im, C_PRODUCT_ID), 0, 0};
  fld_t q = get(im, C_QUANTITY), pr = get(im, C_UNIT_PRICE);
  int ok = 1;
  if (!it.product.n) ok = 0, bad_row(im, ln, "product_id", "empty");
  if (parse_int(q, 1, 1000000000, &it.qty) != 0)
    ok = 0, bad_row(im, ln, "quantity", "'%.*s' is not an integer in 1..10^9", (int)q.n, q.p);
  int rc = decimal_to_minor(pr.p, pr.n, im->cur_exp, &it.price);
  if (rc != 0 || it.price < 0)
    ok = 0, bad_row(im, ln, "unit_price", "'%.*s': %s", (int)pr.n, pr.p,
                    rc ? money_error(rc) : "negative");
  if (im->nitems >= MAX_LINES) ok = 0, bad_row(im, ln, "lines", "more than %d lines", MAX_LINES);
  if (!ok) im->order_bad = 1;
  else if (!im->order_bad) im->items[im->nitems++] = it;
  return 0;
}

static int customer_row(importer_t *im) {
  long ln = im->in.rec_line;
  fld_t id = id_field(get(im, C_CUSTOMER_ID)), email = get(im, C_EMAIL), name = get(im, C_NAME),
        ca = get(im, C_CREATED_AT);
  if (!id.n) {
    bad_row(im, ln, "customer_id", "empty");
    return 0;
  }
  int64_t created = 0;
  if (ca.n && parse_timestamp(ca.p, ca.n, &created) != 0) {
    bad_row(im, ln, "created_at", "'%.*s' is not seconds or a date", (int)ca.n, ca.p);
    return 0;
  }
  msgpack_packer *pk = &im->pk;
  msgpack_pack_map(pk, 1 + (email.n > 0) + (name.n > 0) + (ca.n > 0));
  pk_key(pk, "customer_id");
  pk_str(pk, id.p, id.n);
  if (email.n) pk_key(pk, "email"), pk_str(pk, email.p, email.n);
  if (name.n) pk_key(pk, "name"), pk_str(pk, name.p, name.n);
  if (ca.n) pk_key(pk, "created_at"), msgpack_pack_int64(pk, created);
  return submit(im, ln, id);
}

static int product_row(importer_t *im) {
  long ln = im->in.rec_line;
  fld_t id = get(im, C_PRODUCT_ID), name = get(im, C_NAME), cat = get(im, C_CATEGORY);
  fld_t price = get(im, C_PRICE).n ? get(im, C_PRICE) : get(im, C_UNIT_PRICE);
  fld_t stock = get(im, C_STOCK), margin = get(im, C_MARGIN), active = get(im, C_ACTIVE);
  if (!id.n) {
    bad_row(im, ln, "product_id", "empty");
    return 0;
  }
  char cur[4];
  int64_t pv = 0, sv = 0, mv = 0;
  int exp = 2;
  if (price.n || margin.n) {
    if (currency_of(im, cur) != 0) {
      bad_row(im, ln, "currency", "missing or not an ISO-4217 code (column or --currency)");
      return 0;
    }
    exp = currency_exponent(cur);
  }
  int rc;
  if (price.n && ((rc = decimal_to_minor(price.p, price.n, exp, &pv)) != 0 || pv < 0)) {
    bad_row(im, ln, "price", "'%.*s': %s", (int)price.n, price.p,
            rc ? money_error(rc) : "negative");
    return 0;
  }
  if (margin.n && (rc = decimal_to_minor(margin.p, margin.n, exp, &mv)) != 0) {
    bad_row(im, ln, "margin", "'%.*s': %s", (int)margin.n, margin.p, money_error(rc));
    return 0;
  }
  if (stock.n && parse_int(stock, -1, 1000000000, &sv) != 0) {
    bad_row(im, ln, "stock", "'%.*s' is not an integer in -1..10^9", (int)stock.n, stock.p);
    return 0;
  }
  int act = -1;
  if (active.n) {
    if (fld_eq(active, "true") || fld_eq(active, "1") || fld_eq(active, "yes")) act = 1;
    else if (fld_eq(active, "false") || fld_eq(active, "0") || fld_eq(active, "no")) act = 0;
    else {
      bad_row(im, ln, "active", "'%.*s' is not true/false", (int)active.n, active.p);
      return 0;
    }
  }
  msgpack_packer *pk = &im->pk;
  size_t n = 1 + (name.n > 0) + (cat.n > 0) + (price.n > 0) * 2 + (stock.n > 0) +
             (margin.n > 0) * (price.n ? 1 : 2) + (act >= 0);
  msgpack_pack_map(pk, n);
  pk_key(pk, "product_id");
  pk_str(pk, id.p, id.n);
  if (name.n) pk_key(pk, "name"), pk_str(pk, name.p, name.n);
  if (cat.n) pk_key(pk, "category"), pk_str(pk, cat.p, cat.n);
  if (price.n || margin.n) pk_key(pk, "currency"), pk_str(pk, cur, 3);
  if (price.n) pk_key(pk, "price"), msgpack_pack_int64(pk, pv);
  if (stock.n) pk_key(pk, "stock"), msgpack_pack_int64(pk, sv);
  if (margin.n) pk_key(pk, "margin"), msgpack_pack_int64(pk, mv);
  if (act >= 0) {
    pk_key(pk, "active");
    if (act) msgpack_pack_true(pk);
    else msgpack_pack_false(pk);
  }
  return submit(im, ln, id);
}

/* NDJSON: each line is the method's params object as in PROTOCOL.md (minor units). */
static int ndjson_row(importer_t *im, const char *s, size_t n) {
  void *mp = NULL;
  size_t mplen = 0;
  patron_error_t err;
  if (patron_json_to_msgpack(s, n, &mp, &mplen, &err) != PATRON_OK || !mplen ||
      !((((unsigned char *)mp)[0] & 0xf0) == 0x80 || ((unsigned char *)mp)[0] == 0xde)) {
    bad_row(im, im->in.rec_line, "-", "not a JSON object%s%s", mplen ? "" : ": ",
            mplen ? "" : err.message);
    patron_free(mp);
    return 0;
  }
  msgpack_sbuffer_write(&im->req, mp, mplen);
  patron_free(mp);
  static const char *const keys[] = {"order_id", "customer_id", "product_id"};
  const char *k = strstr(s, keys[im->kind]);
  fld_t key = {"?", 1};
  if (k && (k = strchr(k + strlen(keys[im->kind]) + 1, '"')) != NULL && k < s + n) {
    const char *e = memchr(k + 1, '"', (size_t)(s + n - k - 1));
    if (e) key = (fld_t){k + 1, (size_t)(e - k - 1)};
  }
  return submit(im, im->in.rec_line, key);
}

/* ---- progress --------------------------------------------------------------------- */

static void progress(importer_t *im, int final) {
  double t = now_s();
  if (!final && t - im->last_progress < im->progress_every) return;
  im->last_progress = t;
  if (im->quiet) return;
  double el = t - im->t0, rate = el > 0 ? (double)im->rows / el : 0;
  long total = im->rows_total > im->rows ? im->rows_total : im->rows;
  double eta = rate > 0 ? (double)(total - im->rows) / rate : 0;
  if (im->progress_tty) {
    int w = 30, done = total ? (int)((double)im->rows * w / (double)total) : w;
    char bar[32];
    for (int i = 0; i < w; i++) bar[i] = i < done ? '#' : '.';
    bar[w] = '\0';
    fprintf(stderr, "\r\033[K[%s] %ld/%ld rows  %.0f rows/s  ETA %.0fs  errors %ld%s", bar,
            im->rows, total, rate, eta, im->bad_rows + im->rejected, final ? "\n" : "");
  } else {
    fprintf(stderr, "import: %ld/%ld rows, %.0f rows/s, ETA %.0fs, errors %ld\n", im->rows,
            total, rate, eta, im->bad_rows + im->rejected);
  }
}

/* ---- command ---------------------------------------------------------------------- */

static void usage_import(void) {
  fprintf(stderr,
          "usage: patronctl import orders|customers|products FILE [--format csv|ndjson]\n"
          "       [--currency XXX] [--window N] [--max-errors N] [--no-progress]\n");
}

static int run(importer_t *im) {
  if (im->fmt == FMT_CSV) {
    if (csv_next(&im->in) != 0) return 0; /* empty file */
    map_header(im);
    int need = im->kind == KIND_ORDERS ? C_ORDER_ID : im->kind == KIND_CUSTOMERS ? C_CUSTOMER_ID
                                                                                 : C_PRODUCT_ID;
    if (im->col[need] < 0) {
      fprintf(stderr, "%s:%ld: header: no %s (or %s) column\n", im->file, im->in.rec_line,
              col_names[need][0], col_names[need][1] ? col_names[need][1] : "alias");
      return 64;
    }
  }
  int rc = 0;
  while (!interrupted && !too_many_errors(im)) {
    if (im->fmt == FMT_CSV) {
      if (csv_next(&im->in) != 0) break;
      rc = im->kind == KIND_ORDERS ? order_row(im) : im->kind == KIND_CUSTOMERS ? customer_row(im)
                                                                               : product_row(im);
    } else {
      while (im->in.pos < im->in.len && (im->in.buf[im->in.pos] == '\n' || im->in.buf[im->in.pos] == '\r' ||
                                   im->in.buf[im->in.pos] == ' '))
        im->in.line += im->in.buf[im->in.pos++] == '\n';
      if (im->in.pos >= im->in.len) break;
      char *s = im->in.buf + im->in.pos, *e = memchr(s, '\n', im->in.len - im->in.pos);
      size_t n = e ? (size_t)(e - s) : im->in.len - im->in.pos;
      im->in.rec_line = im->in.line;
      im->in.pos += n;
      rc = ndjson_row(im, s, n);
    }
    if (rc != 0) break;
    im->rows++;
    if ((im->rows & 255) == 0) progress(im, 0);
  }
  if (rc == 0 && im->kind == KIND_ORDERS && !interrupted && !too_many_errors(im))
    rc = finish_order(im);
  if (rc == 0) rc = drain(im, 0);
  return rc;
}

int patronctl_import(const char *sock, int timeout_ms, int json_out, int argc, char **argv) {
  static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                       {"currency", required_argument, NULL, 'C'},
                                       {"window", required_argument, NULL, 'w'},
                                       {"max-errors", required_argument, NULL, 'm'},
                                       {"no-progress", no_argument, NULL, 'q'},
                                       {NULL, 0, NULL, 0}};
  static importer_t im; /* large (the order's lines); one import per process */
  memset(&im, 0, sizeof im);
  im.fmt = -1;
  im.window = 512;
  im.max_errors = -1;
  im.json_out = json_out;
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    char *end;
    long v;
    switch (ch) {
    case 'f':
      if (!strcmp(optarg, "csv")) im.fmt = FMT_CSV;
      else if (!strcmp(optarg, "ndjson") || !strcmp(optarg, "jsonl")) im.fmt = FMT_NDJSON;
      else return usage_import(), 64;
      break;
    case 'C': im.def_currency = optarg; break;
    case 'w':
    case 'm':
      v = strtol(optarg, &end, 10);
      if (!*optarg || *end || v < (ch == 'w' ? 1 : 0) || v > (ch == 'w' ? 4096 : 1L << 40)) {
        fprintf(stderr, "patronctl: --%s: bad number '%s' (window: 1..4096)\n",
                ch == 'w' ? "window" : "max-errors", optarg);
        return 64;
      }
      /* at most the daemon's default limits.max_inflight_writes: past it patrond stops
       * reading while this side still writes, and the answers pile up unread */
      if (ch == 'w') im.window = (unsigned)v;
      else im.max_errors = v;
      break;
    case 'q': im.quiet = 1; break;
    default: usage_import(); return 64;
    }
  }
  if (argc - optind != 2) return usage_import(), 64;
  const char *what = argv[optind];
  im.file = argv[optind + 1];
  if (!strcmp(what, "orders")) im.kind = KIND_ORDERS, im.method = "order.record";
  else if (!strcmp(what, "customers")) im.kind = KIND_CUSTOMERS, im.method = "customer.upsert";
  else if (!strcmp(what, "products")) im.kind = KIND_PRODUCTS, im.method = "product.upsert";
  else return usage_import(), 64;
  if (im.fmt < 0) {
    const char *dot = strrchr(im.file, '.');
    im.fmt = dot && (!strcmp(dot, ".ndjson") || !strcmp(dot, ".jsonl")) ? FMT_NDJSON : FMT_CSV;
  }
  if (csv_open(&im.in, im.file) != 0) {
    fprintf(stderr, "patronctl: cannot read %s: %s\n", im.file, strerror(errno));
    return 64;
  }
  if (!im.quiet) { /* the rows to go, for the progress display */
    for (size_t k = 0; k < im.in.len; k++) im.rows_total += im.in.buf[k] == '\n';
    if (im.in.len && im.in.buf[im.in.len - 1] != '\n') im.rows_total++;
    if (im.fmt == FMT_CSV && im.rows_total) im.rows_total--; /* the header */
  }
  char errbuf[300];
  im.pc = pipe_open(sock ? sock : PATRON_DEFAULT_SOCKET, timeout_ms, errbuf, sizeof errbuf);
  if (!im.pc) {
    fprintf(stderr, "patronctl: %s\n", errbuf);
    csv_close(&im.in);
    return 2;
  }
  im.pend = calloc(im.window, sizeof *im.pend);
  msgpack_sbuffer_init(&im.req);
  msgpack_packer_init(&im.pk, &im.req, msgpack_sbuffer_write);
  im.progress_tty = isatty(2);
  im.progress_every = im.progress_tty ? 0.2 : 5.0;
  /* bad-row lines to a file or a pipe go out in blocks, not in 3 writes each (a large file
   * has thousands); on a terminal they show at once */
  static char err_block[1 << 16];
  if (!im.progress_tty) setvbuf(stderr, err_block, _IOFBF, sizeof err_block);
  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  im.t0 = im.last_progress = now_s();

  int rc = im.pend ? run(&im) : -1;
  double el = now_s() - im.t0;
  progress(&im, 1);
  int exit_code = 0;
  if (rc == 64) {
    exit_code = 64;
  } else if (rc != 0) {
    fprintf(stderr, "patronctl: %s (%u requests unanswered; rerun the same command to resume)\n",
            pipe_error(im.pc), im.inflight);
    exit_code = 2;
  } else if (interrupted || too_many_errors(&im) || im.bad_rows || im.rejected) {
    exit_code = 1;
  }
  if (interrupted)
    fprintf(stderr, "patronctl: interrupted at %s:%ld; every answered row is stored, rerun the "
                    "same command to resume\n", im.file, im.in.line);
  else if (too_many_errors(&im))
    fprintf(stderr, "patronctl: stopped at %s:%ld after more than %ld errors\n", im.file, im.in.line,
            im.max_errors);
  int complete = !interrupted && !too_many_errors(&im) && (exit_code == 0 || exit_code == 1);
  double rps = el > 0 ? (double)im.rows / el : 0.0;
  double wps = el > 0 ? (double)(im.created + im.unchanged) / el : 0.0;
  if (json_out) {
    json_t *j = json_pack("{ss ss sI sI sI sI sI sI sf sf sf sb}", "file", im.file, "method",
                          im.method, "rows", (json_int_t)im.rows, "sent", (json_int_t)im.sent,
                          "created", (json_int_t)im.created, "unchanged",
                          (json_int_t)im.unchanged, "bad_rows", (json_int_t)im.bad_rows,
                          "rejected", (json_int_t)im.rejected, "seconds", el, "rows_per_s",
                          rps, "writes_per_s", wps, "complete", complete);
    char *txt = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    printf("%s\n", txt ? txt : "{}");
    free(txt);
    json_decref(j);
  } else {
    printf("%s: %s: %ld rows, %ld sent, %ld created, %ld unchanged, %ld bad rows, %ld rejected, "
           "%.3f s, %.0f rows/s, %.0f writes/s\n",
           im.file, im.method, im.rows, im.sent, im.created, im.unchanged, im.bad_rows,
           im.rejected, el, rps, wps);
  }
  fflush(stderr);
  if (!im.progress_tty) setvbuf(stderr, NULL, _IONBF, 0);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  msgpack_sbuffer_destroy(&im.req);
  free(im.pend);
  pipe_close(im.pc);
  csv_close(&im.in);
  return exit_code;
}

/* test_client_e2e.c -- end-to-end test of libpatronclient against the real patrond.
 * Starts the daemon given as argv[1] (fork/exec) on a temporary socket and data directory
 * (durable commits, the default), then calls every method of protocol/methods.def through
 * patron_call (msgpack params packed here) and patron_call_json: happy paths, at least one
 * bad input per method (structured code + field), idempotent and conflicting replays, an
 * oversize frame; then every row of protocol/methods.def (read at run time) is called with a
 * bad field through both APIs, admin methods also on the admin socket; SIGTERM + restart keeps
 * every acknowledged order; a stopped (SIGSTOP) or killed daemon gives PATRON_E_UNAVAILABLE
 * within the call's timeout.
 * Usage: test_client_e2e /path/to/patrond [/path/to/methods.def] */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <msgpack.h>

#include "patronclient.h"

#ifndef PATRON_METHODS_DEF
#define PATRON_METHODS_DEF "protocol/methods.def"
#endif

/* ---------- the daemon under test ---------- */

static const char *g_patrond;
static const char *g_methods_def = PATRON_METHODS_DEF;
static char g_dir[256], g_sock[320], g_admin[320], g_data[320], g_log[320];
static pid_t g_pid = -1;
static patron_client_t *g_c;

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void dump_log(void) {
  FILE *f = fopen(g_log, "r");
  if (!f) return;
  char line[512];
  fprintf(stderr, "---- patrond log ----\n");
  while (fgets(line, sizeof line, f)) fputs(line, stderr);
  fclose(f);
}

/* fork/exec patrond; wait until it answers ping (up to 10 s). */
static int daemon_start(void) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int fd = open(g_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execl(g_patrond, g_patrond, "--socket", g_sock, "--admin-socket", g_admin, "--data-dir",
          g_data, "--no-config", "--foreground", "--set", "log.level=warning", (char *)NULL);
    _exit(127);
  }
  g_pid = pid;
  patron_client_t *c = patron_open(g_sock, 500);
  if (!c) return -1;
  int64_t end = mono_ms() + 10000;
  int ok = 0;
  while (mono_ms() < end) {
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      g_pid = -1;
      break;
    }
    void *res = NULL;
    size_t n = 0;
    if (patron_call(c, "ping", NULL, 0, &res, &n, NULL) == PATRON_OK) {
      patron_free(res);
      ok = 1;
      break;
    }
    usleep(20000);
  }
  patron_close(c);
  if (!ok) dump_log();
  return ok ? 0 : -1;
}

/* Send sig and wait for the exit (up to 15 s, then SIGKILL). Returns the wait status. */
static int daemon_stop(int sig) {
  if (g_pid < 0) return -1;
  kill(g_pid, sig);
  int st = -1;
  int64_t end = mono_ms() + 15000;
  for (;;) {
    pid_t r = waitpid(g_pid, &st, WNOHANG);
    if (r == g_pid) break;
    if (r < 0 && errno != EINTR) break;
    if (mono_ms() > end) {
      kill(g_pid, SIGKILL);
      waitpid(g_pid, &st, 0);
      st = -1;
      break;
    }
    usleep(10000);
  }
  g_pid = -1;
  return st;
}

static void rm_tree(const char *dir) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

static int group_setup(void **state) {
  (void)state;
  const char *tmp = getenv("TMPDIR");
  snprintf(g_dir, sizeof g_dir, "%s/patron-e2e-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(g_dir)) return -1;
  snprintf(g_sock, sizeof g_sock, "%s/p.sock", g_dir);
  snprintf(g_admin, sizeof g_admin, "%s/a.sock", g_dir);
  snprintf(g_data, sizeof g_data, "%s/data", g_dir);
  snprintf(g_log, sizeof g_log, "%s/patrond.log", g_dir);
  if (daemon_start()) return -1;
  g_c = patron_open(g_sock, 5000);
  return g_c ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  patron_close(g_c);
  if (g_pid > 0) daemon_stop(SIGTERM);
  rm_tree(g_dir);
  return 0;
}

/* ---------- msgpack helpers ---------- */

typedef struct {
  msgpack_sbuffer sb;
  msgpack_packer pk;
} mp_t;

static void mp_init(mp_t *m) {
  msgpack_sbuffer_init(&m->sb);
  msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}
static void mp_free(mp_t *m) { msgpack_sbuffer_destroy(&m->sb); }
static void mp_str(mp_t *m, const char *s) {
  msgpack_pack_str(&m->pk, strlen(s));
  msgpack_pack_str_body(&m->pk, s, strlen(s));
}
static void mp_kv_str(mp_t *m, const char *k, const char *v) {
  mp_str(m, k);
  mp_str(m, v);
}
static void mp_kv_int(mp_t *m, const char *k, int64_t v) {
  mp_str(m, k);
  msgpack_pack_int64(&m->pk, v);
}

/* One order line map {product_id, quantity, unit_price}. */
static void mp_line(mp_t *m, const char *pid, int64_t qty, int64_t price) {
  msgpack_pack_map(&m->pk, 3);
  mp_kv_str(m, "product_id", pid);
  mp_kv_int(m, "quantity", qty);
  mp_kv_int(m, "unit_price", price);
}

/* order.record params: one or two lines (second when pid2 != NULL). */
static void mp_order(mp_t *m, const char *oid, const char *cid, int64_t ts, const char *cur,
                     const char *pid1, int64_t q1, int64_t p1, const char *pid2, int64_t q2,
                     int64_t p2) {
  mp_init(m);
  msgpack_pack_map(&m->pk, 5);
  mp_kv_str(m, "order_id", oid);
  mp_kv_str(m, "customer_id", cid);
  mp_kv_int(m, "ts", ts);
  mp_kv_str(m, "currency", cur);
  mp_str(m, "lines");
  msgpack_pack_array(&m->pk, pid2 ? 2 : 1);
  mp_line(m, pid1, q1, p1);
  if (pid2) mp_line(m, pid2, q2, p2);
}

typedef struct {
  msgpack_unpacked up; /* its strings point into raw: both live until reply_free */
  void *raw;
  int status;
  patron_error_t err;
} reply_t;

/* patron_call with msgpack params; the result (if any) is unpacked into r->up. */
static int call_mp(const char *method, const mp_t *params, reply_t *r) {
  void *res = NULL;
  size_t n = 0;
  memset(&r->err, 0, sizeof r->err);
  msgpack_unpacked_init(&r->up);
  r->status = patron_call(g_c, method, params ? params->sb.data : NULL, params ? params->sb.size : 0,
                          &res, &n, &r->err);
  r->raw = res;
  if (r->status == PATRON_OK) {
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&r->up, res, n, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, n);
  } else {
    assert_null(res);
  }
  return r->status;
}
static void reply_free(reply_t *r) {
  msgpack_unpacked_destroy(&r->up);
  patron_free(r->raw);
  r->raw = NULL;
}

static const msgpack_object *oget(const msgpack_object *m, const char *key) {
  if (!m || m->type != MSGPACK_OBJECT_MAP) return NULL;
  size_t kl = strlen(key);
  for (uint32_t i = 0; i < m->via.map.size; i++) {
    const msgpack_object *k = &m->via.map.ptr[i].key;
    if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kl && memcmp(k->via.str.ptr, key, kl) == 0)
      return &m->via.map.ptr[i].val;
  }
  return NULL;
}
static const msgpack_object *oget_typed(const msgpack_object *m, const char *key, int type) {
  const msgpack_object *v = oget(m, key);
  if (!v) fail_msg("result has no field '%s'", key);
  if (type >= 0 && (int)v->type != type) fail_msg("field '%s' has msgpack type %d, want %d", key, (int)v->type, type);
  return v;
}
static int64_t oint(const msgpack_object *m, const char *key) {
  const msgpack_object *v = oget_typed(m, key, -1);
  if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) return (int64_t)v->via.u64;
  if (v->type != MSGPACK_OBJECT_NEGATIVE_INTEGER) fail_msg("field '%s' is not an integer", key);
  return v->via.i64;
}
static int obool(const msgpack_object *m, const char *key) {
  return oget_typed(m, key, MSGPACK_OBJECT_BOOLEAN)->via.boolean;
}
static void ostr_eq(const msgpack_object *m, const char *key, const char *want) {
  const msgpack_object *v = oget_typed(m, key, MSGPACK_OBJECT_STR);
  if (v->via.str.size != strlen(want) || memcmp(v->via.str.ptr, want, strlen(want)))
    fail_msg("field '%s' is '%.*s', want '%s'", key, (int)v->via.str.size, v->via.str.ptr, want);
}

/* Expect a remote error with this code and (when field != NULL) this field. */
static void expect_err_mp(const char *method, const mp_t *params, const char *code, const char *field) {
  reply_t r;
  int st = call_mp(method, params, &r);
  if (st != PATRON_E_REMOTE || strcmp(r.err.code, code) || (field && strcmp(r.err.field, field)))
    fail_msg("%s: want %s/%s, got status %d code '%s' field '%s' (%s)", method, code,
             field ? field : "*", st, r.err.code, r.err.field, r.err.message);
  assert_int_equal(r.err.status, PATRON_E_REMOTE);
  reply_free(&r);
}

/* patron_call_json: returns the JSON text (result or error object); checks the status. */
static char *call_js(const char *method, const char *json, int want_status) {
  int st = 99;
  char *out = patron_call_json(g_c, method, json, &st);
  assert_non_null(out);
  if (st != want_status) fail_msg("%s %s: status %d, want %d: %s", method, json ? json : "", st, want_status, out);
  return out;
}
static void expect_json_has(const char *json, const char *needle) {
  if (!strstr(json, needle)) fail_msg("expected %s in %s", needle, json);
}
static void expect_err_js(const char *method, const char *params, const char *code, const char *field) {
  char *out = call_js(method, params, PATRON_E_REMOTE);
  char want[200];
  snprintf(want, sizeof want, "\"code\":\"%s\"", code);
  expect_json_has(out, want);
  if (field) {
    snprintf(want, sizeof want, "\"field\":\"%s\"", field);
    expect_json_has(out, want);
  }
  patron_free(out);
}

/* ---------- tests: operational methods ---------- */

static void test_ping_health_stats(void **state) {
  (void)state;
  reply_t r;
  assert_int_equal(call_mp("ping", NULL, &r), PATRON_OK);
  assert_true(obool(&r.up.data, "pong"));
  assert_true(oint(&r.up.data, "time") > 1600000000);
  reply_free(&r);
  char *js = call_js("ping", "{}", PATRON_OK);
  expect_json_has(js, "\"pong\":true");
  patron_free(js);

  assert_int_equal(call_mp("health", NULL, &r), PATRON_OK);
  assert_true(obool(&r.up.data, "ok"));
  ostr_eq(&r.up.data, "status", "ok");
  reply_free(&r);
  js = call_js("health", NULL, PATRON_OK);
  expect_json_has(js, "\"ok\":true");
  patron_free(js);

  assert_int_equal(call_mp("stats", NULL, &r), PATRON_OK);
  const msgpack_object *conns = oget(&r.up.data, "connections");
  assert_true(oint(conns, "current") >= 1);
  const msgpack_object *by = oget(oget(&r.up.data, "requests"), "by_method");
  assert_true(oint(oget(by, "ping"), "calls") >= 2);
  assert_non_null(oget(oget(&r.up.data, "writes"), "batches"));
  reply_free(&r);
  js = call_js("stats", "{}", PATRON_OK);
  expect_json_has(js, "\"uptime_s\":");
  patron_free(js);

  /* bad input: these methods take no fields; an unknown field is named */
  mp_t p;
  mp_init(&p);
  msgpack_pack_map(&p.pk, 1);
  mp_kv_int(&p, "verbose", 1);
  expect_err_mp("ping", &p, "invalid_params", "verbose");
  expect_err_mp("health", &p, "invalid_params", "verbose");
  expect_err_mp("stats", &p, "invalid_params", "verbose");
  mp_free(&p);
  expect_err_js("stats", "{\"x\":true}", "invalid_params", "x");
  expect_err_js("health", "{\"x\":true}", "invalid_params", "x");
  expect_err_js("ping", "{\"x\":1}", "invalid_params", "x");
}

static void test_unknown_method_and_local_errors(void **state) {
  (void)state;
  reply_t r;
  assert_int_equal(call_mp("order.delete", NULL, &r), PATRON_E_REMOTE);
  assert_string_equal(r.err.code, "unknown_method");
  reply_free(&r);
  /* params that are not one map: refused locally, nothing sent */
  static const unsigned char arr[] = {0x91, 0x01};
  void *res = (void *)1;
  size_t n = 0;
  patron_error_t e;
  assert_int_equal(patron_call(g_c, "ping", arr, sizeof arr, &res, &n, &e), PATRON_E_INVALID);
  assert_null(res);
  int st = 0;
  char *js = patron_call_json(g_c, "ping", "{not json", &st);
  assert_int_equal(st, PATRON_E_INVALID);
  patron_free(js);
  /* the connection still works */
  js = call_js("ping", NULL, PATRON_OK);
  patron_free(js);
}

/* ---------- products ---------- */

static void test_products(void **state) {
  (void)state;
  mp_t p;
  reply_t r;
  mp_init(&p);
  msgpack_pack_map(&p.pk, 7);
  mp_kv_str(&p, "product_id", "e2e-mug");
  mp_kv_str(&p, "name", "Mug");
  mp_kv_str(&p, "category", "kitchen");
  mp_kv_int(&p, "price", 1200);
  mp_kv_str(&p, "currency", "EUR");
  mp_kv_int(&p, "stock", 5);
  mp_kv_int(&p, "margin", 400);
  assert_int_equal(call_mp("product.upsert", &p, &r), PATRON_OK);
  ostr_eq(&r.up.data, "product_id", "e2e-mug");
  assert_true(oint(&r.up.data, "updated_at") > 0);
  reply_free(&r);
  mp_free(&p);

  mp_init(&p);
  msgpack_pack_map(&p.pk, 1);
  mp_kv_str(&p, "product_id", "e2e-mug");
  assert_int_equal(call_mp("product.get", &p, &r), PATRON_OK);
  ostr_eq(&r.up.data, "name", "Mug");
  ostr_eq(&r.up.data, "currency", "EUR");
  assert_int_equal(oint(&r.up.data, "price"), 1200);
  assert_int_equal(oint(&r.up.data, "stock"), 5);
  assert_true(obool(&r.up.data, "in_stock"));
  reply_free(&r);
  mp_free(&p);

  /* partial update through JSON: stock only, the rest is kept */
  char *js = call_js("product.upsert", "{\"product_id\":\"e2e-mug\",\"stock\":0}", PATRON_OK);
  patron_free(js);
  js = call_js("product.get", "{\"product_id\":\"e2e-mug\"}", PATRON_OK);
  expect_json_has(js, "\"name\":\"Mug\"");
  expect_json_has(js, "\"price\":1200");
  expect_json_has(js, "\"in_stock\":false");
  patron_free(js);

  /* bad inputs */
  mp_init(&p);
  msgpack_pack_map(&p.pk, 2);
  mp_kv_str(&p, "product_id", "e2e-bad");
  mp_kv_int(&p, "price", 5);
  expect_err_mp("product.upsert", &p, "invalid_params", "currency");
  mp_free(&p);
  expect_err_js("product.upsert", "{\"product_id\":\"e2e-bad\",\"price\":-5,\"currency\":\"EUR\"}",
                "invalid_params", "price");
  expect_err_js("product.upsert", "{\"product_id\":12}", "invalid_params", "product_id");
  expect_err_js("product.get", "{\"product_id\":\"e2e-bad\"}", "not_found", NULL);
  mp_init(&p);
  msgpack_pack_map(&p.pk, 0);
  expect_err_mp("product.get", &p, "invalid_params", "product_id");
  mp_free(&p);
}

/* ---------- customers ---------- */

static void test_customers(void **state) {
  (void)state;
  mp_t p;
  reply_t r;
  mp_init(&p);
  msgpack_pack_map(&p.pk, 4);
  mp_kv_str(&p, "customer_id", "e2e-ann");
  mp_kv_str(&p, "email", "ann@example.com");
  mp_kv_str(&p, "name", "Ann");
  mp_kv_int(&p, "created_at", 1600000000);
  assert_int_equal(call_mp("customer.upsert", &p, &r), PATRON_OK);
  ostr_eq(&r.up.data, "customer_id", "e2e-ann");
  reply_free(&r);
  mp_free(&p);

  mp_order(&p, "e2e-ann-1", "e2e-ann", 1000, "EUR", "a", 2, 500, "b", 1, 300);
  assert_int_equal(call_mp("order.record", &p, &r), PATRON_OK);
  reply_free(&r);
  mp_free(&p);
  char *js = call_js("order.record",
                     "{\"order_id\":\"e2e-ann-2\",\"customer_id\":\"e2e-ann\",\"ts\":3000,"
                     "\"currency\":\"EUR\",\"lines\":[{\"product_id\":\"c\",\"quantity\":1,"
                     "\"unit_price\":999}]}",
                     PATRON_OK);
  patron_free(js);

  mp_init(&p);
  msgpack_pack_map(&p.pk, 1);
  mp_kv_str(&p, "customer_id", "e2e-ann");
  assert_int_equal(call_mp("customer.get", &p, &r), PATRON_OK);
  const msgpack_object *o = &r.up.data;
  assert_true(obool(o, "known"));
  ostr_eq(o, "email", "ann@example.com");
  assert_int_equal(oint(o, "first_order_at"), 1000);
  assert_int_equal(oint(o, "last_order_at"), 3000);
  assert_int_equal(oint(o, "order_count"), 2);
  const msgpack_object *tot = oget(o, "totals");
  assert_non_null(tot);
  assert_int_equal(tot->type, MSGPACK_OBJECT_ARRAY);
  assert_int_equal(tot->via.array.size, 1);
  ostr_eq(&tot->via.array.ptr[0], "currency", "EUR");
  assert_int_equal(oint(&tot->via.array.ptr[0], "gross"), 1300 + 999);
  assert_int_equal(oint(&tot->via.array.ptr[0], "aov"), 1150); /* 2299 / 2 = 1149.5, half up */
  const msgpack_object *lp = oget(o, "last_products");
  assert_non_null(lp);
  assert_int_equal(lp->type, MSGPACK_OBJECT_ARRAY);
  assert_int_equal(lp->via.array.size, 3);
  assert_int_equal(lp->via.array.ptr[0].type, MSGPACK_OBJECT_STR);
  assert_memory_equal(lp->via.array.ptr[0].via.str.ptr, "c", 1);
  reply_free(&r);
  mp_free(&p);

  js = call_js("customer.get", "{\"customer_id\":\"e2e-ann\"}", PATRON_OK);
  expect_json_has(js, "\"name\":\"Ann\"");
  expect_json_has(js, "\"order_count\":2");
  patron_free(js);
  /* a customer only seen in orders exists but is not known */
  mp_order(&p, "e2e-bob-1", "e2e-bob", 2000, "USD", "a", 1, 100, NULL, 0, 0);
  assert_int_equal(call_mp("order.record", &p, &r), PATRON_OK);
  reply_free(&r);
  mp_free(&p);
  js = call_js("customer.get", "{\"customer_id\":\"e2e-bob\"}", PATRON_OK);
  expect_json_has(js, "\"known\":false");
  patron_free(js);

  /* bad inputs */
  mp_init(&p);
  msgpack_pack_map(&p.pk, 2);
  mp_kv_str(&p, "customer_id", "e2e-x");
  mp_str(&p, "email");
  msgpack_pack_array(&p.pk, 1);
  mp_str(&p, "x");
  expect_err_mp("customer.upsert", &p, "invalid_params", "email");
  mp_free(&p);
  expect_err_js("customer.upsert", "{\"email\":\"a@b.c\"}", "invalid_params", "customer_id");
  expect_err_js("customer.get", "{}", "invalid_params", "customer_id");
  expect_err_js("customer.get", "{\"customer_id\":\"e2e-ghost\"}", "not_found", NULL);
  mp_init(&p);
  msgpack_pack_map(&p.pk, 1);
  mp_kv_int(&p, "customer_id", 7);
  expect_err_mp("customer.get", &p, "invalid_params", "customer_id");
  mp_free(&p);
}

/* ---------- orders, refunds ---------- */

static void test_orders_idempotency_and_bad_input(void **state) {
  (void)state;
  mp_t p;
  reply_t r;
  mp_order(&p, "e2e-o-1", "e2e-cara", 1700000000, "EUR", "mug", 2, 1200, "tea", 1, 450);
  assert_int_equal(call_mp("order.record", &p, &r), PATRON_OK);
  assert_true(obool(&r.up.data, "created"));
  assert_int_equal(oint(&r.up.data, "subtotal"), 2850);
  assert_int_equal(oint(&r.up.data, "total"), 2850);
  reply_free(&r);
  /* idempotent replay: same content, no-op */
  assert_int_equal(call_mp("order.record", &p, &r), PATRON_OK);
  assert_false(obool(&r.up.data, "created"));
  assert_int_equal(oint(&r.up.data, "total"), 2850);
  reply_free(&r);
  mp_free(&p);
  /* conflicting replay: same id, other content */
  mp_order(&p, "e2e-o-1", "e2e-cara", 1700000000, "EUR", "mug", 3, 1200, "tea", 1, 450);
  expect_err_mp("order.record", &p, "conflict", "order_id");
  mp_free(&p);
  /* the JSON path: replay and conflict too */
  const char *j1 = "{\"order_id\":\"e2e-o-2\",\"customer_id\":\"e2e-cara\",\"ts\":1700000100,"
                   "\"currency\":\"EUR\",\"lines\":[{\"product_id\":\"mug\",\"quantity\":1,"
                   "\"unit_price\":1200}],\"shipping\":500,\"tax\":100,\"discount\":200}";
  char *js = call_js("order.record", j1, PATRON_OK);
  expect_json_has(js, "\"created\":true");
  expect_json_has(js, "\"total\":1600");
  patron_free(js);
  js = call_js("order.record", j1, PATRON_OK);
  expect_json_has(js, "\"created\":false");
  patron_free(js);
  expect_err_js("order.record",
                "{\"order_id\":\"e2e-o-2\",\"customer_id\":\"e2e-cara\",\"ts\":1700000100,"
                "\"currency\":\"USD\",\"lines\":[{\"product_id\":\"mug\",\"quantity\":1,"
                "\"unit_price\":1200}],\"shipping\":500,\"tax\":100,\"discount\":200}",
                "conflict", "order_id");

  /* bad inputs, each with its field; nothing is recorded */
  mp_order(&p, "e2e-bad-1", "e2e-cara", 1700000000, "EUR", "mug", -2, 1200, NULL, 0, 0);
  expect_err_mp("order.record", &p, "invalid_params", "lines[0].quantity");
  mp_free(&p);
  mp_order(&p, "e2e-bad-2", "e2e-cara", 1700000000, "XYZ", "mug", 1, 1200, NULL, 0, 0);
  expect_err_mp("order.record", &p, "invalid_params", "currency");
  mp_free(&p);
  mp_order(&p, "e2e-bad-3", "e2e-cara", 1700000000, "EUR", "mug", 1, 1200, "tea", 0, 1);
  expect_err_mp("order.record", &p, "invalid_params", "lines[1].quantity");
  mp_free(&p);
  expect_err_js("order.record",
                "{\"order_id\":\"e2e-bad-4\",\"customer_id\":\"c\",\"ts\":\"yesterday\","
                "\"currency\":\"EUR\",\"lines\":[{\"product_id\":\"p\",\"quantity\":1,\"unit_price\":1}]}",
                "invalid_params", "ts");
  expect_err_js("order.record",
                "{\"order_id\":\"e2e-bad-5\",\"customer_id\":\"c\",\"ts\":1,"
                "\"currency\":\"EUR\",\"lines\":[{\"product_id\":\"p\",\"quantity\":1,\"unit_price\":9.99}]}",
                "invalid_params", "lines[0].unit_price");
  expect_err_js("order.record",
                "{\"order_id\":\"e2e-bad-6\",\"customer_id\":\"c\",\"ts\":1,\"currency\":\"EUR\",\"lines\":[]}",
                "invalid_params", "lines");
  expect_err_js("order.record", "{\"order_id\":\"e2e-bad-7\"}", "invalid_params", "customer_id");
  expect_err_js("order.record",
                "{\"order_id\":\"e2e-bad-8\",\"customer_id\":\"c\",\"ts\":1,\"currency\":\"EUR\","
                "\"lines\":[{\"product_id\":\"p\",\"quantity\":1,\"unit_price\":100}],\"discount\":500}",
                "invalid_params", "discount");
  for (int i = 1; i <= 8; i++) {
    char q[64];
    snprintf(q, sizeof q, "{\"order_id\":\"e2e-bad-%d\"}", i);
    expect_err_js("order.get", q, "not_found", NULL);
  }

  /* order.get: happy path (msgpack) and bad input */
  mp_init(&p);
  msgpack_pack_map(&p.pk, 1);
  mp_kv_str(&p, "order_id", "e2e-o-1");
  assert_int_equal(call_mp("order.get", &p, &r), PATRON_OK);
  ostr_eq(&r.up.data, "customer_id", "e2e-cara");
  ostr_eq(&r.up.data, "currency", "EUR");
  assert_int_equal(oint(&r.up.data, "ts"), 1700000000);
  assert_int_equal(oint(&r.up.data, "refunded"), 0);
  const msgpack_object *lines = oget(&r.up.data, "lines");
  assert_non_null(lines);
  assert_int_equal(lines->via.array.size, 2);
  assert_int_equal(oint(&lines->via.array.ptr[0], "quantity"), 2);
  reply_free(&r);
  mp_free(&p);
  mp_init(&p);
  msgpack_pack_map(&p.pk, 1);
  mp_kv_int(&p, "order_id", 12);
  expect_err_mp("order.get", &p, "invalid_params", "order_id");
  mp_free(&p);
  js = call_js("order.get", "{\"order_id\":\"e2e-o-2\"}", PATRON_OK);
  expect_json_has(js, "\"shipping\":500");
  patron_free(js);
}

static void test_refunds(void **state) {
  (void)state;
  mp_t p;
  reply_t r;
  mp_init(&p);
  msgpack_pack_map(&p.pk, 6);
  mp_kv_str(&p, "order_id", "e2e-rf-1");
  mp_kv_str(&p, "customer_id", "e2e-dan");
  mp_kv_int(&p, "ts", 1700000000);
  mp_kv_str(&p, "currency", "EUR");
  mp_str(&p, "lines");
  msgpack_pack_array(&p.pk, 1);
  mp_line(&p, "x", 3, 1000);
  mp_kv_int(&p, "shipping", 500);
  assert_int_equal(call_mp("order.record", &p, &r), PATRON_OK);
  assert_int_equal(oint(&r.up.data, "total"), 3500);
  reply_free(&r);
  mp_free(&p);

  /* refund two of three lines (msgpack), replay = no-op, other content = conflict */
  mp_init(&p);
  msgpack_pack_map(&p.pk, 3);
  mp_kv_str(&p, "refund_id", "e2e-rf-1-a");
  mp_kv_str(&p, "order_id", "e2e-rf-1");
  mp_str(&p, "lines");
  msgpack_pack_array(&p.pk, 1);
  msgpack_pack_map(&p.pk, 2);
  mp_kv_str(&p, "product_id", "x");
  mp_kv_int(&p, "quantity", 2);
  assert_int_equal(call_mp("order.refund", &p, &r), PATRON_OK);
  assert_true(obool(&r.up.data, "created"));
  assert_int_equal(oint(&r.up.data, "amount"), 2000);
  assert_int_equal(oint(&r.up.data, "refunded"), 2000);
  assert_int_equal(oint(&r.up.data, "refundable"), 1500);
  ostr_eq(&r.up.data, "currency", "EUR");
  reply_free(&r);
  assert_int_equal(call_mp("order.refund", &p, &r), PATRON_OK);
  assert_false(obool(&r.up.data, "created"));
  reply_free(&r);
  mp_free(&p);
  expect_err_js("order.refund", "{\"refund_id\":\"e2e-rf-1-a\",\"order_id\":\"e2e-rf-1\",\"amount\":5}",
                "conflict", "refund_id");
  /* over-refund, unknown order, both lines and amount */
  expect_err_js("order.refund",
                "{\"refund_id\":\"e2e-rf-1-b\",\"order_id\":\"e2e-rf-1\",\"lines\":[{\"product_id\":\"x\",\"quantity\":2}]}",
                "invalid_params", "lines[0].quantity");
  mp_init(&p);
  msgpack_pack_map(&p.pk, 3);
  mp_kv_str(&p, "refund_id", "e2e-rf-1-c");
  mp_kv_str(&p, "order_id", "e2e-rf-1");
  mp_kv_int(&p, "amount", 1501);
  expect_err_mp("order.refund", &p, "invalid_params", "amount");
  mp_free(&p);
  expect_err_js("order.refund", "{\"refund_id\":\"e2e-rf-9\",\"order_id\":\"e2e-nope\",\"amount\":1}",
                "not_found", "order_id");
  expect_err_js("order.refund", "{\"order_id\":\"e2e-rf-1\",\"amount\":1}", "invalid_params", "refund_id");
  /* the rest as an amount (JSON), replayed */
  const char *rest = "{\"refund_id\":\"e2e-rf-1-d\",\"order_id\":\"e2e-rf-1\",\"amount\":1500}";
  char *js = call_js("order.refund", rest, PATRON_OK);
  expect_json_has(js, "\"refundable\":0");
  expect_json_has(js, "\"created\":true");
  patron_free(js);
  js = call_js("order.refund", rest, PATRON_OK);
  expect_json_has(js, "\"created\":false");
  patron_free(js);
  js = call_js("order.get", "{\"order_id\":\"e2e-rf-1\"}", PATRON_OK);
  expect_json_has(js, "\"refunded\":3500");
  patron_free(js);
  js = call_js("customer.get", "{\"customer_id\":\"e2e-dan\"}", PATRON_OK);
  expect_json_has(js, "\"refund_count\":2");
  expect_json_has(js, "\"net\":0");
  patron_free(js);
}

/* ---------- limits: an oversize frame ---------- */

static void test_oversize_frame(void **state) {
  (void)state;
  size_t big = 1100 * 1024; /* > limits.max_message_bytes (1 MiB) */
  char *s = malloc(big);
  assert_non_null(s);
  memset(s, 'x', big);
  mp_t p;
  mp_init(&p);
  msgpack_pack_map(&p.pk, 2);
  mp_kv_str(&p, "customer_id", "e2e-big");
  mp_str(&p, "name");
  msgpack_pack_str(&p.pk, big);
  msgpack_pack_str_body(&p.pk, s, big);
  free(s);
  reply_t r;
  int st = call_mp("customer.upsert", &p, &r);
  /* the daemon answers too_large and closes; a client may also see the close first */
  if (st == PATRON_E_REMOTE) assert_string_equal(r.err.code, "too_large");
  else assert_int_equal(st, PATRON_E_UNAVAILABLE);
  reply_free(&r);
  mp_free(&p);
  char *js = call_js("customer.get", "{\"customer_id\":\"e2e-big\"}", PATRON_E_REMOTE);
  expect_json_has(js, "\"code\":\"not_found\""); /* reconnected; nothing was written */
  patron_free(js);
}


/* ---------- the whole method table ---------- */

/* Methods whose happy paths this file checks above or in test_models_and_recs. */
static const char *const happy_covered[] = {
    "ping", "health", "stats", "product.upsert", "product.get", "customer.upsert", "customer.get",
    "order.record", "order.refund", "order.get", "model.status", "model.refit", "recs.cart",
    "recs.upsell", "recs.similar", "recs.for_customer", "recs.rules", NULL};

static void test_models_and_recs(void **state) {
  (void)state;
  char *js = call_js("model.status", NULL, PATRON_OK);
  expect_json_has(js, "\"models\":[");
  patron_free(js);
  /* admin methods: forbidden on the shop socket, served on the admin socket */
  expect_err_js("model.refit", "{}", "forbidden", NULL);
  expect_err_js("recs.rules", "{}", "forbidden", NULL);
  patron_client_t *adm = patron_open(g_admin, 10000);
  assert_non_null(adm);
  int st = 0;
  js = patron_call_json(adm, "model.refit", "{\"models\":[\"recs\"]}", &st);
  if (st != PATRON_OK) fail_msg("model.refit: %d %s", st, js ? js : "");
  expect_json_has(js, "\"models\":[");
  patron_free(js);
  js = patron_call_json(adm, "recs.rules", "{\"min_support\":0.05,\"min_confidence\":0.1}", &st);
  if (st != PATRON_OK) fail_msg("recs.rules: %d %s", st, js ? js : "");
  patron_free(js);
  js = patron_call_json(adm, "model.refit", "{\"models\":[\"nope\"]}", &st);
  assert_int_equal(st, PATRON_E_REMOTE);
  expect_json_has(js, "\"code\":\"invalid_params\"");
  patron_free(js);
  patron_close(adm);
  /* recommendations: answers (possibly fallbacks) for known and unknown items */
  js = call_js("recs.cart", "{\"items\":[\"a\",\"mug\"],\"limit\":3}", PATRON_OK);
  expect_json_has(js, "\"items\":[");
  patron_free(js);
  js = call_js("recs.upsell", "{\"product_id\":\"e2e-mug\"}", PATRON_OK);
  expect_json_has(js, "\"fallback\":");
  patron_free(js);
  js = call_js("recs.similar", "{\"product_id\":\"a\",\"limit\":5}", PATRON_OK);
  expect_json_has(js, "\"items\":[");
  patron_free(js);
  js = call_js("recs.for_customer", "{\"customer_id\":\"e2e-ann\"}", PATRON_OK);
  expect_json_has(js, "\"items\":[");
  patron_free(js);
  expect_err_js("recs.cart", "{\"items\":[\"a\"],\"limit\":0}", "invalid_params", "limit");
  expect_err_js("recs.similar", "{}", "invalid_params", "product_id");
}

/* Every row of methods.def answers a bad field with a structured error naming it (admin
 * methods: forbidden on the shop socket, invalid_params on the admin socket), through
 * patron_call and patron_call_json; never unknown_method. */
static void test_every_method_in_table(void **state) {
  (void)state;
  FILE *f = fopen(g_methods_def, "r");
  if (!f) {
    fprintf(stderr, "NOTE: %s not readable; method-table coverage skipped\n", g_methods_def);
    skip();
  }
  patron_client_t *adm = patron_open(g_admin, 10000);
  assert_non_null(adm);
  static const unsigned char bad[] = {0x81, 0xa6, 'e', '2', 'e', 'b', 'a', 'd', 0x01}; /* {e2ebad: 1} */
  char line[1024];
  int n = 0;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "XX(", 3) != 0) continue;
    char *q1 = strchr(line, '"'), *q2 = q1 ? strchr(q1 + 1, '"') : NULL;
    assert_non_null(q2);
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)(q2 - q1 - 1), q1 + 1);
    int admin = strstr(q2, "M_ADMIN") != NULL;
    n++;
    for (int side = 0; side < (admin ? 2 : 1); side++) {
      patron_client_t *c = side ? adm : g_c;
      const char *want = admin && !side ? "forbidden" : "invalid_params";
      void *res = NULL;
      size_t rn = 0;
      patron_error_t e;
      int st = patron_call(c, name, bad, sizeof bad, &res, &rn, &e);
      if (st != PATRON_E_REMOTE || strcmp(e.code, want) ||
          (!strcmp(want, "invalid_params") && strcmp(e.field, "e2ebad")))
        fail_msg("%s%s: status %d code '%s' field '%s' (%s), want %s/e2ebad", name,
                 side ? " (admin socket)" : "", st, e.code, e.field, e.message, want);
      int jst = 0;
      char *js = patron_call_json(c, name, "{\"e2ebad\":1}", &jst);
      assert_int_equal(jst, PATRON_E_REMOTE);
      char w[64];
      snprintf(w, sizeof w, "\"code\":\"%s\"", want);
      expect_json_has(js, w);
      patron_free(js);
    }
    int covered = 0;
    for (const char *const *h = happy_covered; *h; h++) covered |= !strcmp(*h, name);
    if (!covered) fprintf(stderr, "NOTE: %s has no happy-path check in test_client_e2e.c yet\n", name);
  }
  fclose(f);
  patron_close(adm);
  assert_true(n >= 10);
}

/* ---------- durability across SIGTERM + restart ---------- */

#define DURABLE_ORDERS 150

static void test_restart_keeps_acknowledged_orders(void **state) {
  (void)state;
  reply_t r;
  assert_int_equal(call_mp("stats", NULL, &r), PATRON_OK);
  int64_t orders_before = oint(oget(&r.up.data, "counts"), "orders");
  reply_free(&r);
  int acked = 0;
  for (int i = 0; i < DURABLE_ORDERS; i++) {
    char oid[32];
    snprintf(oid, sizeof oid, "e2e-dur-%03d", i);
    mp_t p;
    mp_order(&p, oid, i % 2 ? "e2e-dur-a" : "e2e-dur-b", 1700000000 + i, "EUR", "p1", 1 + i % 3, 100 + i,
             "p2", 1, 50);
    if (call_mp("order.record", &p, &r) == PATRON_OK) acked++;
    reply_free(&r);
    mp_free(&p);
  }
  assert_int_equal(acked, DURABLE_ORDERS);

  int st = daemon_stop(SIGTERM);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
  /* while it is down: unavailable, fast */
  int64_t t0 = mono_ms();
  char *js = call_js("ping", NULL, PATRON_E_UNAVAILABLE);
  patron_free(js);
  assert_true(mono_ms() - t0 < 5000);
  assert_int_equal(daemon_start(), 0);

  for (int i = 0; i < DURABLE_ORDERS; i++) {
    char q[80];
    snprintf(q, sizeof q, "{\"order_id\":\"e2e-dur-%03d\"}", i);
    js = call_js("order.get", q, PATRON_OK);
    char want[40];
    snprintf(want, sizeof want, "\"ts\":%d", 1700000000 + i);
    expect_json_has(js, want);
    patron_free(js);
  }
  assert_int_equal(call_mp("stats", NULL, &r), PATRON_OK);
  assert_int_equal(oint(oget(&r.up.data, "counts"), "orders"), orders_before + DURABLE_ORDERS);
  reply_free(&r);
  js = call_js("customer.get", "{\"customer_id\":\"e2e-dur-a\"}", PATRON_OK);
  expect_json_has(js, "\"order_count\":75");
  patron_free(js);
  /* earlier tests' data survived too, and replays stay idempotent after the restart */
  mp_t p;
  mp_order(&p, "e2e-o-1", "e2e-cara", 1700000000, "EUR", "mug", 2, 1200, "tea", 1, 450);
  assert_int_equal(call_mp("order.record", &p, &r), PATRON_OK);
  assert_false(obool(&r.up.data, "created"));
  reply_free(&r);
  mp_free(&p);
}

/* ---------- fail-open: a stopped daemon, then a killed one ---------- */

static void expect_unavailable_within(int timeout_ms) {
  patron_set_timeout(g_c, timeout_ms);
  int64_t t0 = mono_ms();
  reply_t r;
  assert_int_equal(call_mp("ping", NULL, &r), PATRON_E_UNAVAILABLE);
  assert_int_equal(r.err.status, PATRON_E_UNAVAILABLE);
  reply_free(&r);
  int64_t el = mono_ms() - t0;
  if (el > timeout_ms + 250) fail_msg("unavailable after %lld ms, timeout %d ms", (long long)el, timeout_ms);
  t0 = mono_ms();
  int st = 0;
  char *js = patron_call_json(g_c, "customer.get", "{\"customer_id\":\"e2e-ann\"}", &st);
  assert_int_equal(st, PATRON_E_UNAVAILABLE);
  patron_free(js);
  el = mono_ms() - t0;
  if (el > timeout_ms + 250) fail_msg("json: unavailable after %lld ms, timeout %d ms", (long long)el, timeout_ms);
}

static void test_unavailable_when_stopped_or_killed(void **state) {
  (void)state;
  char *js = call_js("ping", NULL, PATRON_OK); /* connected */
  patron_free(js);
  /* a daemon that accepts but never answers: the timeout path */
  assert_int_equal(kill(g_pid, SIGSTOP), 0);
  expect_unavailable_within(300);
  assert_int_equal(kill(g_pid, SIGCONT), 0);
  patron_set_timeout(g_c, 5000);
  /* reconnects lazily. While the daemon catches up with the connections that timed out, a
   * new one has been seen (rarely) to be reset; a checkout would fail open once and the next
   * call works, so allow one retry but say so. */
  int st = 0;
  js = patron_call_json(g_c, "ping", NULL, &st);
  if (st != PATRON_OK) {
    fprintf(stderr, "NOTE: first call after SIGCONT: status %d: %s (retrying)\n", st, js ? js : "");
    patron_free(js);
    js = call_js("ping", NULL, PATRON_OK);
  }
  patron_free(js);
  /* a dead daemon: connection refused / socket gone */
  st = daemon_stop(SIGKILL);
  assert_true(WIFSIGNALED(st));
  expect_unavailable_within(300);
  patron_set_timeout(g_c, 5000);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s /path/to/patrond [/path/to/methods.def]\n", argv[0]);
    return 2;
  }
  g_patrond = argv[1];
  if (argc > 2) g_methods_def = argv[2];
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ping_health_stats),
      cmocka_unit_test(test_unknown_method_and_local_errors),
      cmocka_unit_test(test_products),
      cmocka_unit_test(test_customers),
      cmocka_unit_test(test_orders_idempotency_and_bad_input),
      cmocka_unit_test(test_refunds),
      cmocka_unit_test(test_oversize_frame),
      cmocka_unit_test(test_models_and_recs),
      cmocka_unit_test(test_every_method_in_table),
      cmocka_unit_test(test_restart_keeps_acknowledged_orders),
      cmocka_unit_test(test_unavailable_when_stopped_or_killed),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

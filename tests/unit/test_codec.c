/* test_codec.c -- the wire layer without a socket: the input guard and msgpack-c's unpacker
 * over every split of a pipelined stream, every guard violation, rpc_parse's checks, the
 * params getters' errors, the decoders' field paths, and PROTOCOL.md against the table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "guard.h"
#include "methods.h"
#include "params.h"
#include "rpc.h"

static const guard_limits_t LIM = {1 << 20, 16, 65536};

/* A pipelined stream of varied requests. */
static void build_stream(msgpack_sbuffer *sb, int *count) {
  msgpack_packer pk;
  msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
  int n = 0;
  for (int i = 0; i < 6; i++) {
    msgpack_pack_array(&pk, 4);
    msgpack_pack_uint8(&pk, 0);
    msgpack_pack_uint32(&pk, 1000u + (unsigned)i * 70000u); /* fixint, uint16, uint32 ids */
    pk_str(&pk, i % 2 ? "order.record" : "ping");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 5);
    pk_kv_str(&pk, "order_id", "o-1");
    pk_kv_int(&pk, "neg", -123456789 * (i + 1));
    pk_kv_double(&pk, "f", 1.5);
    pk_str(&pk, "blob");
    char big[300];
    memset(big, 'x', sizeof big);
    msgpack_pack_bin(&pk, (size_t)(i * 60));
    msgpack_pack_bin_body(&pk, big, (size_t)(i * 60));
    pk_str(&pk, "lines");
    msgpack_pack_array(&pk, 2);
    for (int l = 0; l < 2; l++) {
      msgpack_pack_map(&pk, 2);
      pk_kv_strn(&pk, "product_id", big, (size_t)(30 + 40 * i)); /* fixstr, str8 */
      pk_kv_uint(&pk, "quantity", UINT64_C(1) << (8 * i));
    }
    n++;
  }
  /* a notification and an ext */
  msgpack_pack_array(&pk, 3);
  msgpack_pack_uint8(&pk, 2);
  pk_str(&pk, "ping");
  msgpack_pack_array(&pk, 1);
  msgpack_pack_ext(&pk, 4, 7);
  msgpack_pack_ext_body(&pk, "abcd", 4);
  n++;
  *count = n;
}

/* Feed the stream in chunks given by cut points; return decoded messages count, compare each
 * to the reference decode. */
static int feed_split(const char *data, size_t len, const size_t *cuts, int ncuts,
                      msgpack_object *ref, msgpack_zone *refzone) {
  (void)refzone;
  guard_t g;
  msgpack_unpacker up;
  msgpack_unpacked msg;
  guard_init(&g, &LIM);
  assert_true(msgpack_unpacker_init(&up, 64));
  msgpack_unpacked_init(&msg);
  int got = 0;
  size_t prev = 0;
  for (int c = 0; c <= ncuts; c++) {
    size_t end = c < ncuts ? cuts[c] : len;
    size_t n = end - prev, good;
    assert_int_equal(guard_feed(&g, (const uint8_t *)data + prev, n, &good), GUARD_OK);
    assert_true(msgpack_unpacker_reserve_buffer(&up, n ? n : 1));
    memcpy(msgpack_unpacker_buffer(&up), data + prev, n);
    msgpack_unpacker_buffer_consumed(&up, n);
    while (msgpack_unpacker_next(&up, &msg) == MSGPACK_UNPACK_SUCCESS) {
      assert_true(msgpack_object_equal(msg.data, ref[got]));
      got++;
    }
    prev = end;
  }
  assert_true(guard_idle(&g));
  assert_int_equal((int)g.messages, got);
  msgpack_unpacked_destroy(&msg);
  msgpack_unpacker_destroy(&up);
  return got;
}

static void test_every_split_point(void **state) {
  (void)state;
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  int count;
  build_stream(&sb, &count);
  /* reference decode, all at once */
  msgpack_zone z;
  msgpack_zone_init(&z, 4096);
  msgpack_object ref[16];
  size_t off = 0;
  for (int i = 0; i < count; i++)
    assert_int_equal(msgpack_unpack(sb.data, sb.size, &off, &z, &ref[i]), i == count - 1 ? MSGPACK_UNPACK_SUCCESS : MSGPACK_UNPACK_EXTRA_BYTES);
  assert_int_equal(off, sb.size);
  /* one cut anywhere */
  for (size_t k = 0; k <= sb.size; k++) assert_int_equal(feed_split(sb.data, sb.size, &k, 1, ref, &z), count);
  /* two cuts: a sample of all pairs */
  for (size_t a = 1; a < sb.size; a += 7)
    for (size_t b = a; b < sb.size; b += 13) {
      size_t cuts[2] = {a, b};
      assert_int_equal(feed_split(sb.data, sb.size, cuts, 2, ref, &z), count);
    }
  /* one byte at a time */
  size_t *cuts = malloc(sizeof *cuts * sb.size);
  for (size_t k = 0; k < sb.size; k++) cuts[k] = k + 1;
  assert_int_equal(feed_split(sb.data, sb.size, cuts, (int)sb.size - 1, ref, &z), count);
  free(cuts);
  msgpack_zone_destroy(&z);
  msgpack_sbuffer_destroy(&sb);
}

static void test_good_end_marks_messages(void **state) {
  (void)state;
  /* two pings then garbage: good_end must point after the second ping */
  const uint8_t ping[] = {0x94, 0x00, 0x01, 0xa4, 'p', 'i', 'n', 'g', 0x90};
  uint8_t buf[sizeof ping * 2 + 1];
  memcpy(buf, ping, sizeof ping);
  memcpy(buf + sizeof ping, ping, sizeof ping);
  buf[sizeof buf - 1] = 0xc1;
  guard_t g;
  size_t good;
  guard_init(&g, &LIM);
  assert_int_equal(guard_feed(&g, buf, sizeof buf, &good), GUARD_MALFORMED);
  assert_int_equal(good, sizeof ping * 2);
  /* a failed guard stays failed */
  assert_int_equal(guard_feed(&g, ping, sizeof ping, &good), GUARD_MALFORMED);
}

static guard_status_t scan(const uint8_t *p, size_t n, guard_t *g) {
  size_t good;
  guard_init(g, &LIM);
  return guard_feed(g, p, n, &good);
}

static void test_guard_violations(void **state) {
  (void)state;
  guard_t g;
  /* str32 announcing 1 GB: rejected after its 5-byte header, with the msgid kept */
  const uint8_t huge_str[] = {0x94, 0x00, 0xcd, 0x12, 0x34, 0xdb, 0x40, 0x00, 0x00, 0x00};
  assert_int_equal(scan(huge_str, sizeof huge_str, &g), GUARD_TOO_LARGE);
  assert_int_equal(g.msgid, 0x1234);
  assert_int_equal(g.msg_type, 0);
  /* array32 of 0x0FFFFFFF elements */
  const uint8_t huge_arr[] = {0x94, 0x00, 0x07, 0xa1, 'x', 0xdd, 0x0f, 0xff, 0xff, 0xff};
  assert_int_equal(scan(huge_arr, sizeof huge_arr, &g), GUARD_TOO_LARGE);
  assert_int_equal(g.msgid, 7);
  /* map32 likewise */
  const uint8_t huge_map[] = {0x94, 0x00, 0x07, 0xa1, 'x', 0x91, 0xdf, 0x00, 0x10, 0x00, 0x00};
  assert_int_equal(scan(huge_map, sizeof huge_map, &g), GUARD_TOO_LARGE);
  /* nesting 40 deep */
  uint8_t deep[64];
  size_t n = 0;
  deep[n++] = 0x94; deep[n++] = 0; deep[n++] = 1; deep[n++] = 0xa1; deep[n++] = 'x';
  for (int i = 0; i < 40; i++) deep[n++] = 0x91;
  assert_int_equal(scan(deep, n, &g), GUARD_TOO_DEEP);
  /* reserved byte */
  const uint8_t reserved[] = {0x94, 0x00, 0x01, 0xc1};
  assert_int_equal(scan(reserved, sizeof reserved, &g), GUARD_MALFORMED);
  /* not an array at the top; a 2-element array; a map */
  const uint8_t notarr[] = {0xa4, 'p', 'i', 'n', 'g'};
  assert_int_equal(scan(notarr, sizeof notarr, &g), GUARD_MALFORMED);
  const uint8_t two[] = {0x92, 0x00, 0x01};
  assert_int_equal(scan(two, sizeof two, &g), GUARD_MALFORMED);
  const uint8_t map[] = {0x81, 0xa1, 'a', 0x01};
  assert_int_equal(scan(map, sizeof map, &g), GUARD_MALFORMED);
  /* total size: a small limit and a message just over it */
  guard_limits_t small = {32, 16, 64};
  uint8_t msg[40] = {0x94, 0x00, 0x01, 0xa1, 'x', 0x91, 0xd9, 30};
  size_t good;
  guard_init(&g, &small);
  assert_int_equal(guard_feed(&g, msg, 8, &good), GUARD_TOO_LARGE);
  /* exactly at the limit passes */
  uint8_t ok[32] = {0x94, 0x00, 0x01, 0xa1, 'x', 0x91, 0xd9, 24};
  guard_init(&g, &small);
  assert_int_equal(guard_feed(&g, ok, sizeof ok, &good), GUARD_OK);
  assert_int_equal(good, 32);
  /* too many elements in one container */
  const uint8_t many[] = {0x94, 0x00, 0x01, 0xa1, 'x', 0xdc, 0x00, 0x80};
  guard_init(&g, &small);
  assert_int_equal(guard_feed(&g, many, sizeof many, &good), GUARD_TOO_LARGE);
}

/* The guard's verdict over a stream fed in one read, as absolute offsets: the status, the end
 * of every completed message, and the type/msgid it noted. */
typedef struct verdict_s {
  guard_status_t status;
  size_t ends[64];
  int nends;
  int64_t msg_type, msgid;
  uint64_t messages;
} verdict_t;

static void feed_cuts(const uint8_t *p, size_t n, size_t step, size_t first, verdict_t *v) {
  guard_t g;
  guard_init(&g, &LIM);
  memset(v, 0, sizeof *v);
  size_t off = 0, len = first ? first : step;
  while (off < n) {
    size_t k = n - off < len ? n - off : len, good;
    v->status = guard_feed(&g, p + off, k, &good);
    if (good && v->nends < 64) v->ends[v->nends++] = off + good;
    off += k;
    len = step;
    if (v->status != GUARD_OK) break;
  }
  v->msg_type = g.msg_type;
  v->msgid = g.msgid;
  v->messages = g.messages;
}

/* Whatever the cut of a stream into reads, the guard gives the same verdict (status, messages
 * completed, the type and msgid it noted): a valid pipelined stream and the same stream with
 * random bytes overwritten (bad leads, huge or short headers, strings running on). */
static void test_guard_split_invariance(void **state) {
  (void)state;
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  int count;
  build_stream(&sb, &count);
  uint8_t *buf = malloc(sb.size);
  unsigned seed = 12345;
  for (int round = 0; round < 400; round++) {
    memcpy(buf, sb.data, sb.size);
    int flips = round == 0 ? 0 : 1 + round % 3;
    for (int f = 0; f < flips; f++) {
      seed = seed * 1103515245u + 12345u;
      size_t at = (seed >> 8) % sb.size;
      seed = seed * 1103515245u + 12345u;
      buf[at] = (uint8_t)(seed >> 16);
    }
    verdict_t whole, cut;
    feed_cuts(buf, sb.size, sb.size, 0, &whole);
    if (round == 0) {
      assert_int_equal(whole.status, GUARD_OK);
      assert_int_equal((int)whole.messages, count);
    }
    for (size_t step = 1; step <= 9; step++)
      for (size_t first = 1; first <= step + 3; first++) {
        feed_cuts(buf, sb.size, step, first, &cut);
        assert_int_equal(cut.status, whole.status);
        assert_int_equal(cut.messages, whole.messages);
        assert_int_equal(cut.msg_type, whole.msg_type);
        assert_int_equal(cut.msgid, whole.msgid);
        /* every end a read reported is a message end of the stream scanned in one read */
        for (int i = 0; i < cut.nends; i++) {
          guard_t g;
          size_t good;
          guard_init(&g, &LIM);
          guard_feed(&g, buf, cut.ends[i], &good);
          if (good != cut.ends[i])
            fail_msg("round %d step %zu: no message ends at %zu", round, step, cut.ends[i]);
        }
      }
  }
  free(buf);
  msgpack_sbuffer_destroy(&sb);
}

/* method_lookup finds every method by its name and nothing else: names one byte off, one
 * byte shorter or longer, empty. */
static void test_method_lookup(void **state) {
  (void)state;
  char name[RPC_METHOD_MAX + 2];
  assert_int_equal(method_lookup("", 0), -1);
  assert_int_equal(method_lookup("nope", 4), -1);
  for (int i = 0; i < METHOD__COUNT; i++) {
    size_t n = method_table[i].name_len;
    assert_int_equal(method_lookup(method_table[i].name, n), i);
    memcpy(name, method_table[i].name, n);
    for (size_t at = 0; at < n; at++) {
      char was = name[at];
      name[at] = (char)(was ^ 0x20);
      int mi = method_lookup(name, n);
      assert_true(mi < 0 || (method_table[mi].name_len == n && !memcmp(method_table[mi].name, name, n)));
      name[at] = was;
    }
    assert_true(method_lookup(name, n - 1) != i);
    name[n] = 'x';
    assert_int_equal(method_lookup(name, n + 1), -1);
  }
}

static int parse_bytes(const uint8_t *p, size_t n, rpc_msg_t *m, perr_info_t *e) {
  msgpack_zone z;
  msgpack_object o;
  size_t off = 0;
  msgpack_zone_init(&z, 1024);
  int ur = msgpack_unpack((const char *)p, n, &off, &z, &o);
  if (ur < MSGPACK_UNPACK_SUCCESS) fail_msg("undecodable case of %zu bytes starting %02x %02x: %d", n, p[0], p[1], ur);
  int rc = rpc_parse(&o, m, e);
  msgpack_zone_destroy(&z);
  return rc;
}

static void test_rpc_parse(void **state) {
  (void)state;
  rpc_msg_t m;
  perr_info_t e;
  const uint8_t ok[] = {0x94, 0x00, 0x05, 0xa4, 'p', 'i', 'n', 'g', 0x90};
  assert_int_equal(parse_bytes(ok, sizeof ok, &m, &e), 0);
  assert_int_equal(m.msgid, 5);
  assert_int_equal(m.method_len, 4);
  assert_null(m.params);
  const uint8_t notif[] = {0x93, 0x02, 0xa4, 'p', 'i', 'n', 'g', 0x91, 0x80};
  assert_int_equal(parse_bytes(notif, sizeof notif, &m, &e), 0);
  assert_int_equal(m.type, RPC_NOTIFICATION);
  assert_non_null(m.params);
  struct { const uint8_t b[16]; size_t n; int code; int has_msgid; const char *needle; } bad[] = {
    {{0x94, 0x01, 0x05, 0xc0, 0xc0}, 5, PERR_INVALID_REQUEST, 1, "type"},
    {{0x94, 0x00, 0xa1, 'x', 0xa1, 'p', 0x90}, 7, PERR_INVALID_REQUEST, 0, "msgid"},
    {{0x94, 0x00, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0, 0xa1, 'p', 0x90}, 14, PERR_INVALID_REQUEST, 0, "msgid"},
    {{0x94, 0x00, 0x01, 0x07, 0x90}, 5, PERR_INVALID_REQUEST, 1, "method"},
    {{0x94, 0x00, 0x01, 0xa1, 'p', 0x80}, 6, PERR_INVALID_REQUEST, 1, "params"},
    {{0x94, 0x00, 0x01, 0xa1, 'p', 0x92, 0x80, 0x80}, 8, PERR_INVALID_PARAMS, 1, "params"},
    {{0x94, 0x00, 0x01, 0xa1, 'p', 0x91, 0x07}, 7, PERR_INVALID_PARAMS, 1, "params"},
    {{0x93, 0x00, 0x01, 0xa1}, 4, PERR_INVALID_REQUEST, 0, "4 elements"},
    {{0x94, 0x00, 0x01, 0xa0, 0x90}, 5, PERR_INVALID_REQUEST, 1, "method name"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (bad[i].n == 4) {
      const uint8_t three[] = {0x93, 0x00, 0x01, 0xa1, 'p'};
      assert_int_equal(parse_bytes(three, sizeof three, &m, &e), bad[i].code);
    } else {
      assert_int_equal(parse_bytes(bad[i].b, bad[i].n, &m, &e), bad[i].code);
    }
    assert_int_equal(m.has_msgid, bad[i].has_msgid);
    if (!strstr(e.message, bad[i].needle)) fail_msg("case %zu: '%s' lacks '%s'", i, e.message, bad[i].needle);
  }
}

/* Decode params built from a packer callback through a method's decoder; inspect (if any)
 * sees the result while its strings and arrays are still allocated. */
typedef void (*build_fn)(msgpack_packer *pk);
static int decode_then(int method, build_fn build, perr_info_t *e, void *out,
                       void (*inspect)(const void *out)) {
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_zone z;
  msgpack_object o;
  size_t off = 0;
  arena_t a;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  build(&pk);
  msgpack_zone_init(&z, 1024);
  assert_int_equal(msgpack_unpack(sb.data, sb.size, &off, &z, &o), MSGPACK_UNPACK_SUCCESS);
  arena_init(&a, 0);
  memset(e, 0, sizeof *e);
  int rc = method_table[method].decode(&o, &a, out, e);
  if (inspect && rc == 0) inspect(out);
  arena_free(&a);
  msgpack_zone_destroy(&z);
  msgpack_sbuffer_destroy(&sb);
  return rc;
}
static int decode_with(int method, build_fn build, perr_info_t *e, void *out) {
  return decode_then(method, build, e, out, NULL);
}

static void order_base(msgpack_packer *pk, int nkeys) {
  msgpack_pack_map(pk, 5 + nkeys);
  pk_kv_str(pk, "order_id", "o1");
  pk_kv_str(pk, "customer_id", "c1");
  pk_kv_int(pk, "ts", 1700000000);
  pk_kv_str(pk, "currency", "EUR");
}
/* The order of order_base with n lines to follow, and one line. */
static void order_lines(msgpack_packer *pk, uint32_t n) {
  order_base(pk, 0);
  pk_str(pk, "lines");
  msgpack_pack_array(pk, n);
}
static void line(msgpack_packer *pk, const char *product, int64_t qty, int64_t price) {
  msgpack_pack_map(pk, 3);
  pk_kv_str(pk, "product_id", product);
  pk_kv_int(pk, "quantity", qty);
  pk_kv_int(pk, "unit_price", price);
}
static void b_ok(msgpack_packer *pk) {
  order_lines(pk, 1);
  line(pk, "p", 2, 100);
}
static void b_negqty(msgpack_packer *pk) {
  order_lines(pk, 2);
  line(pk, "p", 2, 100);
  line(pk, "p", -1, 100);
}
static void b_float_price(msgpack_packer *pk) {
  order_lines(pk, 1);
  msgpack_pack_map(pk, 3);
  pk_kv_str(pk, "product_id", "p");
  pk_kv_int(pk, "quantity", 1);
  pk_kv_double(pk, "unit_price", 9.99);
}
static void b_big_price(msgpack_packer *pk) { /* keys in table order, a value out of range */
  order_lines(pk, 2);
  line(pk, "p", 1, 1);
  line(pk, "p", 1, 1000000000000001LL);
}
static void b_empty_product(msgpack_packer *pk) {
  order_lines(pk, 1);
  line(pk, "", 1, 1);
}
/* An order with one more key, and no lines. */
static void order_extra_key(msgpack_packer *pk, const char *key) {
  order_base(pk, 1);
  pk_kv_int(pk, key, 5);
  pk_str(pk, "lines");
  msgpack_pack_array(pk, 0);
}
static void b_unknown_key(msgpack_packer *pk) { order_extra_key(pk, "totl"); }
static void b_missing_lines(msgpack_packer *pk) {
  msgpack_pack_map(pk, 2);
  pk_kv_str(pk, "order_id", "o1");
  pk_kv_str(pk, "customer_id", "c1");
}
static void b_long_id(msgpack_packer *pk) {
  char id[200];
  memset(id, 'a', sizeof id);
  msgpack_pack_map(pk, 1);
  pk_kv_strn(pk, "customer_id", id, sizeof id);
}
static void b_refund_both(msgpack_packer *pk) {
  msgpack_pack_map(pk, 4);
  pk_kv_str(pk, "refund_id", "r");
  pk_kv_str(pk, "order_id", "o");
  pk_kv_int(pk, "amount", 5);
  pk_str(pk, "lines");
  msgpack_pack_array(pk, 1);
  msgpack_pack_map(pk, 2);
  pk_kv_str(pk, "product_id", "p");
  pk_kv_int(pk, "quantity", 1);
}
/* {k1: v1, k2: v2} */
static void map2_str(msgpack_packer *pk, const char *k1, const char *v1, const char *k2,
                     const char *v2) {
  msgpack_pack_map(pk, 2);
  pk_kv_str(pk, k1, v1);
  pk_kv_str(pk, k2, v2);
}
static void b_refund_neither(msgpack_packer *pk) { map2_str(pk, "refund_id", "r", "order_id", "o"); }
static void b_price_no_currency(msgpack_packer *pk) {
  msgpack_pack_map(pk, 2);
  pk_kv_str(pk, "product_id", "p");
  pk_kv_int(pk, "price", 5);
}
static void b_stock_bool(msgpack_packer *pk) {
  msgpack_pack_map(pk, 2);
  pk_kv_str(pk, "product_id", "p");
  pk_kv_bool(pk, "stock", 1);
}

/* Keys in any order, a repeated key (the first counts), a nil optional field. */
static void b_reordered(msgpack_packer *pk) {
  msgpack_pack_map(pk, 7);
  pk_str(pk, "lines");
  msgpack_pack_array(pk, 2);
  msgpack_pack_map(pk, 4);
  pk_kv_int(pk, "unit_price", 250);
  pk_kv_int(pk, "quantity", 3);
  pk_kv_str(pk, "product_id", "p1");
  pk_kv_int(pk, "quantity", 7);
  msgpack_pack_map(pk, 3);
  pk_kv_str(pk, "product_id", "p2");
  pk_kv_int(pk, "unit_price", 5);
  pk_kv_int(pk, "quantity", 1);
  pk_str(pk, "tax");
  msgpack_pack_nil(pk);
  pk_kv_str(pk, "currency", "EUR");
  pk_kv_int(pk, "ts", 1700000000);
  pk_kv_str(pk, "customer_id", "c1");
  pk_kv_str(pk, "order_id", "o1");
  pk_kv_int(pk, "shipping", 40);
}
/* A key that is a prefix of a field name, one that extends one, one that is not a string. */
static void b_prefix_key(msgpack_packer *pk) { order_extra_key(pk, "order"); }
static void b_longer_key(msgpack_packer *pk) { map2_str(pk, "order_id", "o1", "order_idx", "o1"); }
static void b_int_key(msgpack_packer *pk) {
  msgpack_pack_map(pk, 2);
  pk_kv_str(pk, "order_id", "o1");
  msgpack_pack_int(pk, 7);
  msgpack_pack_int(pk, 7);
}

static void check_reordered(const void *out) {
  const order_t *o = out;
  assert_int_equal(o->order_id.n, 2);
  assert_memory_equal(o->order_id.p, "o1", 2);
  assert_memory_equal(o->customer_id.p, "c1", 2);
  assert_int_equal(o->ts, 1700000000);
  assert_int_equal(o->nlines, 2);
  assert_int_equal(o->lines[0].quantity, 3); /* the first of the two */
  assert_int_equal(o->lines[0].unit_price, 250);
  assert_memory_equal(o->lines[1].product_id.p, "p2", 2);
  assert_int_equal(o->lines[1].quantity, 1);
  assert_int_equal(o->shipping, 40);
  assert_int_equal(o->tax, 0);
}

static void test_decoder_key_matching(void **state) {
  (void)state;
  perr_info_t e;
  order_t o;
  memset(&o, 0, sizeof o);
  assert_int_equal(decode_then(METHOD_order_record, b_reordered, &e, &o, check_reordered), 0);
  assert_int_equal(decode_with(METHOD_order_record, b_prefix_key, &e, &o), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "order");
  assert_int_equal(decode_with(METHOD_order_get, b_longer_key, &e, &o), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "order_idx");
  assert_int_equal(decode_with(METHOD_order_get, b_int_key, &e, &o), PERR_INVALID_PARAMS);
  assert_non_null(strstr(e.message, "field names must be strings"));
}

static void test_decoders(void **state) {
  (void)state;
  perr_info_t e;
  union { order_t o; refund_t r; product_t p; id_params_t id; } u;
  order_t o;
  memset(&o, 0, sizeof o);
  assert_int_equal(decode_with(METHOD_order_record, b_ok, &e, &o), 0);
  assert_int_equal(o.nlines, 1);
  struct { int m; build_fn b; const char *field; } cases[] = {
    {METHOD_order_record, b_negqty, "lines[1].quantity"},
    {METHOD_order_record, b_float_price, "lines[0].unit_price"},
    {METHOD_order_record, b_big_price, "lines[1].unit_price"},
    {METHOD_order_record, b_empty_product, "lines[0].product_id"},
    {METHOD_order_record, b_unknown_key, "totl"},
    {METHOD_order_record, b_missing_lines, "ts"},
    {METHOD_customer_get, b_long_id, "customer_id"},
    {METHOD_order_refund, b_refund_both, "amount"},
    {METHOD_order_refund, b_refund_neither, "amount"},
    {METHOD_product_upsert, b_price_no_currency, "currency"},
    {METHOD_product_upsert, b_stock_bool, "stock"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    memset(&u, 0, sizeof u);
    assert_int_equal(decode_with(cases[i].m, cases[i].b, &e, &u), PERR_INVALID_PARAMS);
    if (strcmp(e.field, cases[i].field)) fail_msg("case %zu: field '%s', want '%s'", i, e.field, cases[i].field);
  }
}

static void test_error_reply_shape(void **state) {
  (void)state;
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  perr_info_t e;
  perr_set(&e, PERR_CONFLICT, "order_id", "differs");
  rpc_pack_error(&pk, 42, &e);
  msgpack_zone z;
  msgpack_object o;
  size_t off = 0;
  msgpack_zone_init(&z, 1024);
  assert_int_equal(msgpack_unpack(sb.data, sb.size, &off, &z, &o), MSGPACK_UNPACK_SUCCESS);
  assert_int_equal(o.via.array.size, 4);
  assert_int_equal(o.via.array.ptr[1].via.u64, 42);
  const msgpack_object_map *m = &o.via.array.ptr[2].via.map;
  assert_int_equal(m->size, 3);
  assert_memory_equal(m->ptr[0].val.via.str.ptr, "conflict", 8);
  assert_int_equal(o.via.array.ptr[3].type, MSGPACK_OBJECT_NIL);
  /* every code has a distinct stable name */
  int codes[] = {
#define XX(name, val, wire, msg) val,
    PERR_MAP(XX)
#undef XX
  };
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    const char *n = perr_name(codes[i]);
    assert_int_equal(perr_from_name(n, strlen(n)), codes[i]);
    for (size_t j = 0; j < i; j++) assert_string_not_equal(n, perr_name(codes[j]));
  }
  msgpack_zone_destroy(&z);
  msgpack_sbuffer_destroy(&sb);
}

/* PROTOCOL.md documents exactly the methods in the table: one "### `name`" heading each. */
static void test_protocol_doc_matches_table(void **state) {
  (void)state;
  FILE *f = fopen(PATRON_SOURCE_DIR "/protocol/PROTOCOL.md", "r");
  assert_non_null(f);
  char line[512];
  int seen[METHOD__COUNT] = {0}, headings = 0;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "### `", 5)) continue;
    char *end = strchr(line + 5, '`');
    assert_non_null(end);
    int mi = method_lookup(line + 5, (size_t)(end - line - 5));
    if (mi < 0) fail_msg("PROTOCOL.md documents '%.*s', which the table lacks", (int)(end - line - 5), line + 5);
    seen[mi]++;
    headings++;
  }
  fclose(f);
  for (int i = 0; i < METHOD__COUNT; i++)
    if (seen[i] != 1) fail_msg("method %s is documented %d times in PROTOCOL.md", method_table[i].name, seen[i]);
  assert_int_equal(headings, METHOD__COUNT);
}

/* The answers written as bytes (ping's constant head, the result head straight into the
 * output) are the bytes the packer calls write. */
static void test_direct_encoders_match_packer(void **state) {
  (void)state;
  const int64_t times[] = {0, 1, 127, 128, 65535, 65536, 1796131002, INT64_MAX, -1, -33, INT64_MIN};
  for (size_t i = 0; i < sizeof times / sizeof *times; i++) {
    msgpack_sbuffer a, b;
    msgpack_packer pa, pb;
    msgpack_sbuffer_init(&a);
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pa, &a, msgpack_sbuffer_write);
    msgpack_packer_init(&pb, &b, msgpack_sbuffer_write);
    ping_result_t r = {times[i]};
    enc_ping(&pa, &r);
    PK_MAP(&pb) {
      pk_kv_bool(&pb, "pong", 1);
      pk_kv_int(&pb, "time", r.time);
    }
    assert_int_equal(a.size, b.size);
    assert_memory_equal(a.data, b.data, a.size);
    msgpack_sbuffer_destroy(&a);
    msgpack_sbuffer_destroy(&b);
  }
  const uint32_t ids[] = {0, 1, 127, 128, 255, 256, 65535, 65536, UINT32_MAX};
  for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
    for (size_t room = 0; room < 12; room++) { /* with and without 8 bytes of room */
      msgpack_sbuffer a, b;
      msgpack_packer pb;
      msgpack_sbuffer_init(&a);
      msgpack_sbuffer_init(&b);
      msgpack_packer_init(&pb, &b, msgpack_sbuffer_write);
      msgpack_sbuffer_write(&a, "x", 1); /* allocates the buffer: fill it, leave room bytes */
      memset(a.data, 'x', a.alloc);
      a.size = a.alloc - room;
      size_t before = a.size;
      msgpack_sbuffer_write(&b, a.data, before);
      rpc_put_result_head(&a, ids[i]);
      rpc_pack_result_head(&pb, ids[i]);
      assert_int_equal(a.size, b.size);
      assert_memory_equal(a.data + before, b.data + before, a.size - before);
      msgpack_sbuffer_destroy(&a);
      msgpack_sbuffer_destroy(&b);
    }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_split_point),
    cmocka_unit_test(test_good_end_marks_messages),
    cmocka_unit_test(test_guard_violations),
    cmocka_unit_test(test_guard_split_invariance),
    cmocka_unit_test(test_method_lookup),
    cmocka_unit_test(test_rpc_parse),
    cmocka_unit_test(test_decoders),
    cmocka_unit_test(test_decoder_key_matching),
    cmocka_unit_test(test_error_reply_shape),
    cmocka_unit_test(test_protocol_doc_matches_table),
    cmocka_unit_test(test_direct_encoders_match_packer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

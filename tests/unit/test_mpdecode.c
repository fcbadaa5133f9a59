/* test_mpdecode.c -- protocol/mpdecode against msgpack-c's own decoder (msgpack_unpack) on
 * random objects of every type packed by msgpack-c: the same object (types and values), the
 * same length; every proper prefix is "incomplete"; random byte flips never give a decode
 * msgpack-c does not give, nor refuse one it gives; the method peek reads the name.
 * The one-walk request path (mpdecode_request_head + _params) against the guard, msgpack-c
 * and rpc_parse over random and adversarial requests and limits: what it takes, the guard
 * accepts whole with the same length and the general path parses identically; what the
 * guard accepts in the common forms, it takes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "guard.h"
#include "guard_accepts.h"
#include "mpdecode.h"
#include "mpframe.h"
#include "rpc.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) { /* xorshift64 */
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return rng;
}

static void pack_random(msgpack_packer *pk, int depth) {
  static const char bytes[300] = "abcdefghijklmnopqrstuvwxyz0123456789";
  int kind = (int)(next() % (depth < 6 ? 16 : 13));
  uint64_t v = next();
  switch (kind) {
    case 0: msgpack_pack_nil(pk); break;
    case 1: if (v & 1) msgpack_pack_true(pk); else msgpack_pack_false(pk); break;
    case 2: msgpack_pack_uint64(pk, v >> (v % 64)); break;
    case 3: msgpack_pack_int64(pk, -(int64_t)(v >> (1 + v % 63)) - 1); break;
    case 4: msgpack_pack_int8(pk, (int8_t)v); break; /* signed forms of small values */
    case 5: msgpack_pack_int32(pk, (int32_t)v); break;
    case 6: msgpack_pack_float(pk, (float)(int32_t)v / 7.0f); break;
    case 7: /* NaN too: equal to itself by its bits (mpdecode_same) */
      if (v % 17 == 0) msgpack_pack_double(pk, NAN);
      else msgpack_pack_double(pk, (double)(int64_t)v / 3.0);
      break;
    case 8: case 9: {
      size_t n = v % (v & 0x100 ? 300 : 40);
      msgpack_pack_str(pk, n);
      msgpack_pack_str_body(pk, bytes, n);
      break;
    }
    case 10: {
      size_t n = v % 70;
      msgpack_pack_bin(pk, n);
      msgpack_pack_bin_body(pk, bytes, n);
      break;
    }
    case 11: case 12: {
      static const size_t sizes[] = {1, 2, 4, 8, 16, 0, 3, 17, 200};
      size_t n = sizes[v % 9];
      msgpack_pack_ext(pk, n, (int8_t)(v >> 8));
      msgpack_pack_ext_body(pk, bytes, n);
      break;
    }
    case 13: {
      size_t n = v % (v & 0x1000 ? 20 : 4);
      msgpack_pack_array(pk, n);
      for (size_t i = 0; i < n; i++) pack_random(pk, depth + 1);
      break;
    }
    default: {
      size_t n = v % (v & 0x1000 ? 18 : 4);
      msgpack_pack_map(pk, n);
      for (size_t i = 0; i < 2 * n; i++) pack_random(pk, depth + 1);
      break;
    }
  }
}

/* Whether a container in p[0..n) announces more elements than bytes follow it: msgpack-c
 * would reserve memory for all of them (gigabytes; the guard refuses such input before any
 * decoder sees it), so the reference is not asked. The headers in document order are the
 * elements in prefix order: a walk over those of the first object, bodies skipped. */
static int announces_too_much(const uint8_t *p, size_t n) {
  size_t i = 0;
  uint64_t owed = 1; /* elements of the first object still to walk */
  while (i < n && owed > 0) {
    owed--;
    int extra = mpframe_header_extra(p[i]);
    if (extra < 0 || (size_t)extra >= n - i) return 0;
    mpframe_item_t it;
    mpframe_header(p + i, &it);
    i += 1 + (size_t)extra;
    if (it.children > n - i) return 1;
    owed += it.children;
    if (it.body > n - i) return 0;
    i += (size_t)it.body;
  }
  return 0;
}

/* msgpack-c's decode of p[0..n): 1 with *off and *o set, 0 incomplete, -1 invalid. */
static int reference(const char *p, size_t n, msgpack_zone *z, size_t *off, msgpack_object *o) {
  *off = 0;
  msgpack_unpack_return r = msgpack_unpack(p, n, off, z, o);
  if (r == MSGPACK_UNPACK_SUCCESS || r == MSGPACK_UNPACK_EXTRA_BYTES) return 1;
  return r == MSGPACK_UNPACK_CONTINUE ? 0 : -1;
}

static void test_same_objects_as_msgpack_c(void **state) {
  (void)state;
  msgpack_zone *z = msgpack_zone_new(4096), *rz = msgpack_zone_new(4096);
  for (int round = 0; round < 3000; round++) {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_random(&pk, 0);
    msgpack_pack_nil(&pk); /* a following object: the decoders must stop before it */
    msgpack_object a, b;
    size_t off;
    assert_int_equal(reference(sb.data, sb.size, rz, &off, &b), 1);
    long got = mpdecode_object((const uint8_t *)sb.data, sb.size, z, &a);
    assert_int_equal(got, (long)off);
    assert_true(mpdecode_same(&a, &b));
    for (size_t cut = 0; cut < off; cut += 1 + cut / 8) /* every prefix (sampled when long) */
      assert_int_equal(mpdecode_object((const uint8_t *)sb.data, cut, z, &a), 0);
    /* byte flips: a decode mpdecode gives, msgpack-c gives too, identically */
    for (int f = 0; f < 4; f++) {
      char *buf = malloc(sb.size);
      memcpy(buf, sb.data, sb.size);
      buf[next() % sb.size] = (char)next();
      got = mpdecode_object((const uint8_t *)buf, sb.size, z, &a);
      if (announces_too_much((const uint8_t *)buf, sb.size)) {
        assert_true(got <= 0); /* it cannot complete */
        free(buf);
        continue;
      }
      int ref = reference(buf, sb.size, rz, &off, &b);
      if (ref == 1) { /* (the flips cannot nest past MPFRAME_MAX_DEPTH in these sizes) */
        assert_int_equal(got, (long)off);
        assert_true(mpdecode_same(&a, &b));
      } else {
        assert_true(got <= 0);
      }
      free(buf);
    }
    msgpack_sbuffer_destroy(&sb);
    msgpack_zone_clear(z);
    msgpack_zone_clear(rz);
  }
  /* nesting past MPFRAME_MAX_DEPTH is refused, not recursed into */
  uint8_t deep[40];
  memset(deep, 0x91, sizeof deep);
  msgpack_object o;
  assert_int_equal(mpdecode_object(deep, sizeof deep, z, &o), -1);
  msgpack_zone_free(z);
  msgpack_zone_free(rz);
}

static void test_method_peek(void **state) {
  (void)state;
  const uint32_t ids[] = {0, 127, 128, 300, 70000};
  const char *names[] = {"ping", "experiments.assign",
                         "a-method-name-longer-than-thirty-one-bytes.x"};
  for (size_t i = 0; i < 5; i++)
    for (size_t k = 0; k < 3; k++)
      for (int notify = 0; notify < 2; notify++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_array(&pk, notify ? 3 : 4);
        msgpack_pack_uint8(&pk, notify ? 2 : 0);
        if (!notify) msgpack_pack_uint32(&pk, ids[i]);
        pk_str(&pk, names[k]);
        msgpack_pack_array(&pk, 0);
        const char *name;
        size_t len;
        assert_int_equal(mpdecode_method((const uint8_t *)sb.data, sb.size, &name, &len), 0);
        assert_int_equal(len, strlen(names[k]));
        assert_memory_equal(name, names[k], len);
        /* cut before the name ends: not read */
        assert_int_equal(mpdecode_method((const uint8_t *)sb.data, sb.size - 2, &name, &len), -1);
        msgpack_sbuffer_destroy(&sb);
      }
  const uint8_t response[] = {0x94, 0x01, 0x01, 0xc0, 0xc0};
  const char *name;
  size_t len;
  assert_int_equal(mpdecode_method(response, sizeof response, &name, &len), -1);
}

/* ---- the one-walk request path ---- */

/* A params map near the limits: keys, scalars, strings, nested arrays/maps to a chosen depth
 * (levels below the map), a chosen number of pairs, duplicate keys sometimes. */
static void pack_params_value(msgpack_packer *pk, int levels) {
  uint64_t v = next();
  if (levels > 0) {
    size_t n = 1 + v % 3;
    if (v & 0x10) {
      msgpack_pack_array(pk, n);
      for (size_t i = 0; i < n; i++) pack_params_value(pk, i == 0 ? levels - 1 : 0);
    } else {
      msgpack_pack_map(pk, n);
      for (size_t i = 0; i < n; i++) {
        pk_str(pk, i == 0 ? "a" : "b");
        pack_params_value(pk, i == 0 ? levels - 1 : 0);
      }
    }
    return;
  }
  pack_random(pk, 5); /* scalars, strings, bins, exts, small containers */
}

typedef struct req_shape_s {
  int notify;
  uint32_t msgid;
  int params_form; /* 0 [], 1 [nil], 2 [map], 3 [map, extra], 4 map (no array), 5 [array], 6 [str] */
  int method_form; /* 0 fixstr, 1 str8, 3 bin8, 4 empty, 5 65 bytes (str16: by hand) */
  int pairs, levels;
  int common;      /* a form the one walk must take when the guard accepts it */
} req_shape_t;

static void pack_request(msgpack_packer *pk, const req_shape_t *r) {
  static const char long_name[80] = "experiments.assign.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  msgpack_pack_array(pk, r->notify ? 3 : 4);
  msgpack_pack_uint8(pk, r->notify ? 2 : 0);
  if (!r->notify) msgpack_pack_uint32(pk, r->msgid);
  switch (r->method_form) {
    case 0: pk_str(pk, "experiments.assign"); break;
    case 1: pk_strn(pk, long_name, 40); break;
    case 3: msgpack_pack_bin(pk, 4); msgpack_pack_bin_body(pk, "ping", 4); break;
    case 4: pk_str(pk, ""); break;
    default: pk_strn(pk, long_name, 65); break;
  }
  switch (r->params_form) {
    case 0: msgpack_pack_array(pk, 0); break;
    case 1: msgpack_pack_array(pk, 1); msgpack_pack_nil(pk); break;
    case 2: case 3:
      msgpack_pack_array(pk, r->params_form == 2 ? 1 : 2);
      msgpack_pack_map(pk, (size_t)r->pairs);
      for (int i = 0; i < r->pairs; i++) {
        char k[8];
        int n = snprintf(k, sizeof k, "k%d", (int)(next() % (size_t)(r->pairs + 1))); /* duplicates */
        pk_strn(pk, k, (size_t)n);
        pack_params_value(pk, i == 0 ? r->levels : 0);
      }
      if (r->params_form == 3) msgpack_pack_int8(pk, -1);
      break;
    case 4: msgpack_pack_map(pk, 0); break;
    case 5: msgpack_pack_array(pk, 1); msgpack_pack_array(pk, 1); msgpack_pack_true(pk); break;
    default: msgpack_pack_array(pk, 1); pk_str(pk, "x"); break;
  }
}

/* The general path on the first message of p[0..n): msgpack-c's object and rpc_parse. */
static int general_parse(const uint8_t *p, size_t n, msgpack_zone *z, size_t *len,
                         msgpack_object *o, rpc_msg_t *m) {
  perr_info_t e;
  *len = 0;
  msgpack_unpack_return r = msgpack_unpack((const char *)p, n, len, z, o);
  if (r != MSGPACK_UNPACK_SUCCESS && r != MSGPACK_UNPACK_EXTRA_BYTES) return 0;
  return rpc_parse(o, m, &e) == 0;
}

/* One input: if the one walk takes it, the guard and the general path agree byte for byte;
 * if common (len > 0: the message is p[0..len)) and the guard and the general path accept
 * it, the one walk must take it. */
static void check_one(const uint8_t *p, size_t n, size_t len, const guard_limits_t *lim,
                      int common, msgpack_zone *z, msgpack_zone *rz, int *taken,
                      int *accepted) {
  rpc_msg_t m, gm;
  memset(&m, 0xa5, sizeof m);
  msgpack_object params, go;
  long k = 0;
  size_t at = mpdecode_request_head(p, n, &m), glen;
  if (at) k = mpdecode_request_params(p, n, at, lim, z, &params, &m);
  if (k > 0) {
    ++*taken;
    assert_true(guard_accepts_one(p, (size_t)k, lim));
    assert_true(general_parse(p, n, rz, &glen, &go, &gm));
    assert_int_equal(glen, (size_t)k);
    assert_int_equal(m.type, gm.type);
    assert_int_equal(m.msgid, gm.msgid);
    assert_int_equal(m.has_msgid, gm.has_msgid);
    assert_int_equal(m.method_len, gm.method_len);
    assert_ptr_equal(m.method, gm.method);
    assert_true((m.params == NULL) == (gm.params == NULL));
    if (m.params) assert_true(mpdecode_same(m.params, gm.params));
  }
  if (len && guard_accepts_one(p, len, lim) && general_parse(p, n, rz, &glen, &go, &gm)) {
    *accepted += 1 << 16 | (k > 0); /* accepted << 16 | of them taken */
    if (common && k <= 0) fail_msg("a common request the guard accepts (%zu bytes) was not taken", len);
  }
  msgpack_zone_clear(z);
  msgpack_zone_clear(rz);
}

static void test_request_path_matches_guard(void **state) {
  (void)state;
  msgpack_zone *z = msgpack_zone_new(4096), *rz = msgpack_zone_new(4096);
  int taken = 0, accepted = 0;
  static const uint32_t ids[] = {0, 127, 128, 255, 256, 65535, 65536, UINT32_MAX};
  for (int round = 0; round < 4000; round++) {
    req_shape_t r = {0};
    r.notify = next() % 8 == 0;
    r.msgid = ids[next() % 8];
    r.params_form = next() % 4 ? (int)(next() % 2) + 2 * (next() % 3 != 0) : (int)(next() % 7);
    if (r.params_form == 3 && next() % 2) r.params_form = 2;
    r.method_form = next() % 4 ? 0 : (int)(next() % 6);
    if (r.method_form == 2) r.method_form = 1;
    r.pairs = (int)(next() % 20);
    r.levels = (int)(next() % 8);
    /* limits around the message's own figures: at, under and over them */
    guard_limits_t lim = {1u << 20, 1 + (uint32_t)(next() % 10), (uint32_t)(next() % 24)};
    if (next() % 3 == 0) lim.max_elems = 65536;
    r.common = r.params_form <= 2 && r.method_form <= 1;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_request(&pk, &r);
    size_t len = sb.size;
    /* the message's byte limit: unlimited, exactly its size, one byte short */
    uint64_t pick = next() % 4;
    if (pick == 1) lim.max_message = (uint32_t)len;
    else if (pick == 2) lim.max_message = (uint32_t)len - 1;
    pack_request(&pk, &r); /* a second message after it: never read into */
    const uint8_t *p = (const uint8_t *)sb.data;
    check_one(p, sb.size, len, &lim, r.common, z, rz, &taken, &accepted);
    /* every prefix: never taken */
    for (size_t cut = 0; cut < len; cut += 1 + cut / 6) {
      rpc_msg_t m;
      msgpack_object o;
      size_t at = mpdecode_request_head(p, cut, &m);
      assert_true(!at || mpdecode_request_params(p, cut, at, &lim, z, &o, &m) <= 0);
      msgpack_zone_clear(z);
    }
    /* byte flips (bad leads, 0xc1, huge headers): whatever is taken, the guard agrees */
    for (int f = 0; f < 6; f++) {
      uint8_t *buf = malloc(sb.size);
      memcpy(buf, sb.data, sb.size);
      size_t at = next() % len;
      buf[at] = f == 0 ? 0xc1 : (uint8_t)next();
      check_one(buf, sb.size, 0, &lim, 0, z, rz, &taken, &accepted);
      free(buf);
    }
    msgpack_sbuffer_destroy(&sb);
  }
  /* hand-made forms: a str16 method name, [nil], a map16 of params, a too-deep map */
  static const uint8_t str16[] = {0x94, 0x00, 0x01, 0xda, 0x00, 0x04, 'p', 'i', 'n', 'g', 0x90};
  static const uint8_t nil[] = {0x94, 0x00, 0x01, 0xa4, 'p', 'i', 'n', 'g', 0x91, 0xc0};
  static const uint8_t map16[] = {0x93, 0x02, 0xa4, 'p', 'i', 'n', 'g', 0x91, 0xde, 0x00, 0x01, 0xa1, 'a', 0x01};
  static const uint8_t deep[] = {0x94, 0x00, 0x01, 0xa1, 'x', 0x91, 0x81, 0xa1, 'a', 0x91, 0x91, 0x90};
  const guard_limits_t lim = {1 << 20, 5, 100};
  check_one(str16, sizeof str16, sizeof str16, &lim, 0, z, rz, &taken, &accepted);
  check_one(nil, sizeof nil, sizeof nil, &lim, 1, z, rz, &taken, &accepted);
  check_one(map16, sizeof map16, sizeof map16, &lim, 1, z, rz, &taken, &accepted);
  check_one(deep, sizeof deep, sizeof deep, &lim, 1, z, rz, &taken, &accepted); /* depth 6 > 5: the guard's */
  const guard_limits_t lim6 = {1 << 20, 6, 100};
  int before = taken;
  check_one(deep, sizeof deep, sizeof deep, &lim6, 1, z, rz, &taken, &accepted); /* depth 6 = 6: taken */
  assert_int_equal(taken, before + 1);
  /* the property is not vacuous: many inputs took the one walk, and most of the generated
   * requests the general path accepts */
  int acc = accepted >> 16, acc_taken = accepted & 0xffff;
  assert_true(taken > 1000);
  assert_true(acc > 500);
  assert_true(acc_taken * 10 >= acc * 7);
  msgpack_zone_free(z);
  msgpack_zone_free(rz);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same_objects_as_msgpack_c),
      cmocka_unit_test(test_method_peek),
      cmocka_unit_test(test_request_path_matches_guard),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_mpdecode.c -- protocol/mpdecode against msgpack-c's own decoder (msgpack_unpack) on
 * random objects of every type packed by msgpack-c: the same object (types and values), the
 * same length; every proper prefix is "incomplete"; random byte flips never give a decode
 * msgpack-c does not give, nor refuse one it gives; the method peek reads the name. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same_objects_as_msgpack_c),
      cmocka_unit_test(test_method_peek),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_client_json.c -- cmocka tests for libpatronclient's JSON <-> msgpack conversion and
 * its msgpack frame scanner (no sockets).
 * Invariants checked: integers stay integers (int64/uint64 exact), floats stay floats and
 * round-trip, strings are escaped into valid UTF-8 JSON, bad JSON is refused with
 * PATRON_E_INVALID, and the frame scanner gives the same answer for every split of a
 * stream while refusing oversize, too-deep and invalid frames. */
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "mpscan.h"
#include "patronclient.h"

/* JSON -> msgpack -> JSON (compact) */
static char *roundtrip(const char *json) {
  void *mp = NULL;
  size_t n = 0;
  patron_error_t err;
  int r = patron_json_to_msgpack(json, strlen(json), &mp, &n, &err);
  assert_int_equal(r, PATRON_OK);
  char *out = patron_msgpack_to_json(mp, n, 0);
  patron_free(mp);
  assert_non_null(out);
  return out;
}

static void expect_rt(const char *in, const char *want) {
  char *out = roundtrip(in);
  assert_string_equal(out, want);
  patron_free(out);
}

static void test_scalars(void **state) {
  (void)state;
  expect_rt("0", "0");
  expect_rt("-1", "-1");
  expect_rt("127", "127");
  expect_rt("128", "128");
  expect_rt("-33", "-33");
  expect_rt("9223372036854775807", "9223372036854775807");
  expect_rt("-9223372036854775808", "-9223372036854775808");
  expect_rt("1.5", "1.5");
  expect_rt("0.1", "0.1");
  expect_rt("3.0", "3.0");
  expect_rt("-2.5e-7", "-2.5e-07");
  expect_rt("1e300", "1e+300");
  expect_rt("true", "true");
  expect_rt("false", "false");
  expect_rt("null", "null");
  expect_rt("\"\"", "\"\"");
}

static void test_integer_and_float_types(void **state) {
  (void)state;
  /* A JSON integer must become a msgpack integer, a JSON real a float64. */
  void *mp = NULL;
  size_t n = 0;
  assert_int_equal(patron_json_to_msgpack("[1, 1.0, -7, 300000]", 20, &mp, &n, NULL), PATRON_OK);
  msgpack_unpacked up;
  msgpack_unpacked_init(&up);
  size_t off = 0;
  assert_int_equal(msgpack_unpack_next(&up, mp, n, &off), MSGPACK_UNPACK_SUCCESS);
  msgpack_object *a = up.data.via.array.ptr;
  assert_int_equal(a[0].type, MSGPACK_OBJECT_POSITIVE_INTEGER);
  assert_int_equal(a[1].type, MSGPACK_OBJECT_FLOAT64);
  assert_int_equal(a[2].type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
  assert_int_equal(a[3].type, MSGPACK_OBJECT_POSITIVE_INTEGER);
  assert_int_equal(a[3].via.u64, 300000);
  msgpack_unpacked_destroy(&up);
  patron_free(mp);
}

static void test_uint64_exact(void **state) {
  (void)state;
  unsigned char mp[9] = {0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  char *s = patron_msgpack_to_json(mp, sizeof mp, 0);
  assert_string_equal(s, "18446744073709551615");
  patron_free(s);
  unsigned char f32[5] = {0xca, 0x3f, 0xc0, 0x00, 0x00}; /* 1.5f */
  s = patron_msgpack_to_json(f32, sizeof f32, 0);
  assert_string_equal(s, "1.5");
  patron_free(s);
  unsigned char f32b[5] = {0xca, 0x3d, 0xcc, 0xcc, 0xcd}; /* 0.1f: shortest float form */
  s = patron_msgpack_to_json(f32b, sizeof f32b, 0);
  assert_string_equal(s, "0.1");
  patron_free(s);
  unsigned char nan[9] = {0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0};
  s = patron_msgpack_to_json(nan, sizeof nan, 0);
  assert_string_equal(s, "null");
  patron_free(s);
}

static void test_strings(void **state) {
  (void)state;
  expect_rt("\"a\\\"b\\\\c\\n\\t\\u0001\"", "\"a\\\"b\\\\c\\n\\t\\u0001\"");
  expect_rt("\"caf\\u00e9 \xe2\x82\xac \\ud83d\\ude00\"", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  expect_rt("\"a\\u0000b\"", "\"a\\u0000b\""); /* embedded NUL survives */
  /* invalid UTF-8 from the wire becomes U+FFFD */
  unsigned char bad[] = {0xa4, 'a', 0xff, 0xc3, 'b'};
  char *s = patron_msgpack_to_json(bad, sizeof bad, 0);
  assert_string_equal(s, "\"a\xef\xbf\xbd\xef\xbf\xbd" "b\"");
  patron_free(s);
}

static void test_containers(void **state) {
  (void)state;
  expect_rt("{}", "{}");
  expect_rt("[]", "[]");
  expect_rt("{\"a\":[1,{\"b\":null}],\"c\":{}}", "{\"a\":[1,{\"b\":null}],\"c\":{}}");
  /* non-string keys are rendered as strings */
  unsigned char mp[] = {0x82, 0x01, 0xa1, 'x', 0xc3, 0x02};
  char *s = patron_msgpack_to_json(mp, sizeof mp, 0);
  assert_string_equal(s, "{\"1\":\"x\",\"true\":2}");
  patron_free(s);
}

/* A map key inside a map key inside ... (found by fuzz_client): every level escapes the
 * level below again, so the output doubled per level (23 levels, the most the depth limit
 * admits: ~25 MB from 48 bytes; before that limit, 31 levels needed gigabytes).
 * A key below three levels of keys now reads "...": the output stays small, and the outer
 * levels are still the escaped JSON of the inner ones. */
static void test_nested_keys_bounded(void **state) {
  (void)state;
  unsigned char mp[64];
  size_t n = 0;
  for (int i = 0; i < 23; i++) mp[n++] = 0x81; /* {key: nil} with the key a map, 23 deep */
  mp[n++] = 0xa1;
  mp[n++] = '"';
  for (int i = 0; i < 23; i++) mp[n++] = 0xc0;
  char *s = patron_msgpack_to_json(mp, n, 0);
  assert_non_null(s);
  assert_true(strlen(s) < 256);
  /* {"<the key map as JSON>":null}, three key maps deep, then the placeholder */
  assert_string_equal(s, "{\"{\\\"{\\\\\\\"{\\\\\\\\\\\\\\\"...\\\\\\\\\\\\\\\":null}\\\\\\\":null}\\\":null}\":null}");
  patron_free(s);
  /* two levels: still the exact escaped text */
  unsigned char two[] = {0x81, 0x81, 0xa1, 'k', 0x01, 0x02};
  s = patron_msgpack_to_json(two, sizeof two, 0);
  assert_string_equal(s, "{\"{\\\"k\\\":1}\":2}");
  patron_free(s);
}

static void test_pretty(void **state) {
  (void)state;
  void *mp = NULL;
  size_t n = 0;
  const char *j = "{\"a\":[1,2],\"b\":{}}";
  assert_int_equal(patron_json_to_msgpack(j, strlen(j), &mp, &n, NULL), PATRON_OK);
  char *s = patron_msgpack_to_json(mp, n, 2);
  assert_string_equal(s, "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {}\n}");
  patron_free(s);
  patron_free(mp);
}

static void test_bad_json(void **state) {
  (void)state;
  const char *bad[] = {"{", "{\"a\":1,\"a\":2}", "[1,]", "99999999999999999999", "nul", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    void *mp = (void *)1;
    size_t n = 7;
    patron_error_t err;
    assert_int_equal(patron_json_to_msgpack(bad[i], strlen(bad[i]), &mp, &n, &err),
                     PATRON_E_INVALID);
    assert_null(mp);
    assert_int_equal(n, 0);
    assert_string_equal(err.code, "invalid_params");
    assert_int_equal(err.status, PATRON_E_INVALID);
    assert_true(strlen(err.message) > 0);
  }
}

static void test_bad_msgpack(void **state) {
  (void)state;
  unsigned char trailing[] = {0x01, 0x02};
  assert_null(patron_msgpack_to_json(trailing, sizeof trailing, 0));
  unsigned char truncated[] = {0x92, 0x01};
  assert_null(patron_msgpack_to_json(truncated, sizeof truncated, 0));
  unsigned char c1[] = {0xc1};
  assert_null(patron_msgpack_to_json(c1, 1, 0));
  assert_null(patron_msgpack_to_json(NULL, 0, 0));
}

static void test_locale_independent(void **state) {
  (void)state;
  /* Only meaningful where a comma-decimal locale is installed; harmless elsewhere. */
  const char *locs[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "de_DE", NULL};
  int set = 0;
  for (int i = 0; locs[i] && !set; i++) set = setlocale(LC_NUMERIC, locs[i]) != NULL;
  expect_rt("[1.5, 0.25]", "[1.5,0.25]");
  if (set) setlocale(LC_NUMERIC, "C");
}

static void test_status_strings(void **state) {
  (void)state;
  assert_string_equal(patron_status_name(PATRON_E_UNAVAILABLE), "unavailable");
  assert_string_equal(patron_status_name(PATRON_OK), "ok");
  assert_string_equal(patron_status_name(12345), "unknown");
  int codes[] = {PATRON_OK, PATRON_E_REMOTE, PATRON_E_UNAVAILABLE, PATRON_E_INVALID,
                 PATRON_E_PROTOCOL, PATRON_E_TOO_LARGE, PATRON_E_NOMEM};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    assert_true(strlen(patron_strerror(codes[i])) > 0);
    assert_string_not_equal(patron_status_name(codes[i]), "unknown");
  }
  assert_non_null(patron_version());
}

/* ---- frame scanner ------------------------------------------------------------------ */

/* Feed buf in two pieces split at every point; the scanner must find the same frames. */
static void test_scan_every_split(void **state) {
  (void)state;
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  size_t ends[3];
  msgpack_pack_array(&pk, 4); /* [1, 7, nil, {"s": "hello", "n": [1, -2, 3.5, bin]}] */
  msgpack_pack_uint8(&pk, 1);
  msgpack_pack_uint32(&pk, 7);
  msgpack_pack_nil(&pk);
  msgpack_pack_map(&pk, 2);
  msgpack_pack_str_with_body(&pk, "s", 1);
  msgpack_pack_str_with_body(&pk, "hello", 5);
  msgpack_pack_str_with_body(&pk, "n", 1);
  msgpack_pack_array(&pk, 4);
  msgpack_pack_int(&pk, 1);
  msgpack_pack_int(&pk, -2);
  msgpack_pack_double(&pk, 3.5);
  msgpack_pack_bin_with_body(&pk, "\x00\x01", 2);
  ends[0] = sb.size;
  msgpack_pack_array(&pk, 3); /* [2, "evt", [{}]] */
  msgpack_pack_uint8(&pk, 2);
  msgpack_pack_str_with_body(&pk, "evt", 3);
  msgpack_pack_array(&pk, 1);
  msgpack_pack_map(&pk, 0);
  ends[1] = sb.size;
  msgpack_pack_uint64(&pk, UINT64_MAX);
  ends[2] = sb.size;
  const uint8_t *buf = (const uint8_t *)sb.data;
  for (size_t split = 0; split <= sb.size; split++) {
    size_t base = 0, found = 0, avail = split;
    mpscan_t s;
    mpscan_init(&s);
    for (;;) {
      size_t fl = 0;
      int r = mpscan_feed(&s, buf + base, avail - base, 1 << 20, &fl);
      if (r == MPSCAN_DONE) {
        assert_int_equal(base + fl, ends[found]);
        found++;
        base += fl;
        mpscan_init(&s);
        continue;
      }
      assert_int_equal(r, MPSCAN_MORE);
      if (avail == sb.size) break;
      avail = sb.size; /* deliver the rest */
    }
    assert_int_equal(found, 3);
  }
  msgpack_sbuffer_destroy(&sb);
}

static void test_scan_limits(void **state) {
  (void)state;
  mpscan_t s;
  size_t fl;
  /* array32 announcing 2^28 elements: refused from the header, nothing allocated */
  uint8_t arr[] = {0xdd, 0x10, 0x00, 0x00, 0x00};
  mpscan_init(&s);
  assert_int_equal(mpscan_feed(&s, arr, sizeof arr, 1 << 20, &fl), MPSCAN_TOO_LARGE);
  /* str32 announcing 1 GB: refused at once, not waited for */
  uint8_t str[] = {0xdb, 0x40, 0x00, 0x00, 0x00};
  mpscan_init(&s);
  assert_int_equal(mpscan_feed(&s, str, sizeof str, 1 << 20, &fl), MPSCAN_TOO_LARGE);
  /* a header split before its length bytes is also judged once they arrive */
  mpscan_init(&s);
  assert_int_equal(mpscan_feed(&s, str, 2, 1 << 20, &fl), MPSCAN_MORE);
  assert_int_equal(mpscan_feed(&s, str, sizeof str, 1 << 20, &fl), MPSCAN_TOO_LARGE);
  /* exactly at the limit is fine */
  uint8_t three[] = {0x93, 0x01, 0x02, 0x03};
  mpscan_init(&s);
  assert_int_equal(mpscan_feed(&s, three, 4, 4, &fl), MPSCAN_DONE);
  assert_int_equal(fl, 4);
  mpscan_init(&s);
  assert_int_equal(mpscan_feed(&s, three, 1, 3, &fl), MPSCAN_TOO_LARGE);
  /* 0xc1 is never valid */
  uint8_t c1[] = {0x91, 0xc1};
  mpscan_init(&s);
  assert_int_equal(mpscan_feed(&s, c1, 2, 100, &fl), MPSCAN_BAD);
  /* nesting: MPSCAN_MAX_DEPTH levels decode (also with msgpack-c), one more is refused */
  uint8_t deep[MPSCAN_MAX_DEPTH + 2];
  for (int d = MPSCAN_MAX_DEPTH; d <= MPSCAN_MAX_DEPTH + 1; d++) {
    memset(deep, 0x91, (size_t)d);
    deep[d] = 0x00;
    mpscan_init(&s);
    int r = mpscan_feed(&s, deep, (size_t)d + 1, 1000, &fl);
    if (d == MPSCAN_MAX_DEPTH) {
      assert_int_equal(r, MPSCAN_DONE);
      char *j = patron_msgpack_to_json(deep, (size_t)d + 1, 0);
      assert_non_null(j);
      patron_free(j);
    } else {
      assert_int_equal(r, MPSCAN_DEEP);
      assert_null(patron_msgpack_to_json(deep, (size_t)d + 1, 0));
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scalars),          cmocka_unit_test(test_integer_and_float_types),
      cmocka_unit_test(test_uint64_exact),     cmocka_unit_test(test_strings),
      cmocka_unit_test(test_containers),       cmocka_unit_test(test_pretty),
      cmocka_unit_test(test_nested_keys_bounded),
      cmocka_unit_test(test_bad_json),         cmocka_unit_test(test_bad_msgpack),
      cmocka_unit_test(test_locale_independent), cmocka_unit_test(test_status_strings),
      cmocka_unit_test(test_scan_every_split), cmocka_unit_test(test_scan_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

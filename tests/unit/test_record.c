/* test_record.c -- record.h's varint readers against the format's definition: rec_get_uv
 * (its one-word path for varints of up to 8 bytes, its no-bounds-check loop when ten bytes
 * remain, and the checked loop near the end) and rec_get_uv_inline give, for every input,
 * the value, the position and the sticky error a plain reference decoder gives, and
 * rec_skip_uv the same position and error: over values of every length written by
 * rec_put_uv, read from buffers cut at every point, and over random bytes (overlong 10-byte
 * forms, a tenth byte of 0, 1 and more, runs of continuation bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/record.h"

static uint64_t next_rand(uint64_t *s) { /* xorshift64 */
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* The format: 7 bits a byte, low first, a set top bit continues; at most 10 bytes, the tenth
 * 0 or 1; a value cut short or longer is an error (position: past the byte that broke it,
 * or the end). */
typedef struct { uint64_t v; size_t at; int bad; } ref_t;
static ref_t ref_uv(const unsigned char *p, size_t n, size_t at) {
  ref_t r = {0, at, 0};
  for (int k = 0; k < 10; k++) {
    if (r.at >= n) break;
    unsigned c = p[r.at++];
    if (k == 9 && c > 1) break;
    r.v |= (uint64_t)(c & 0x7f) << (7 * k);
    if (!(c & 0x80)) return r;
  }
  r.v = 0;
  r.bad = 1;
  return r;
}

/* Reads n bytes as a sequence of varints with both readers and the reference. */
static void check_sequence(const unsigned char *p, size_t n) {
  rec_rd_t a, b, c;
  rec_rd_init(&a, p, n);
  rec_rd_init(&b, p, n);
  rec_rd_init(&c, p, n);
  size_t at = 0;
  int bad = 0;
  for (int i = 0; i < 64 && (at < n || !bad); i++) {
    ref_t want = bad ? (ref_t){0, at, 1} : ref_uv(p, n, at);
    uint64_t va = rec_get_uv(&a), vb = rec_get_uv_inline(&b);
    rec_skip_uv(&c);
    assert_true(va == want.v && vb == want.v);
    assert_int_equal(a.bad != 0, want.bad);
    assert_int_equal(b.bad != 0, want.bad);
    assert_int_equal(c.bad != 0, want.bad);
    if (!want.bad) { /* after an error the position no longer matters (every read is 0) */
      assert_int_equal((size_t)(a.p - p), want.at);
      assert_int_equal((size_t)(b.p - p), want.at);
      assert_int_equal((size_t)(c.p - p), want.at);
    }
    at = want.at;
    bad = want.bad;
    if (bad && i > 2) break;
  }
}

static void test_written_values_cut_anywhere(void **state) {
  (void)state;
  uint64_t s = 0x9e3779b97f4a7c15u;
  for (int round = 0; round < 2000; round++) {
    rec_buf_t b;
    rec_buf_init(&b);
    int count = 1 + (int)(next_rand(&s) % 6);
    for (int i = 0; i < count; i++) {
      int bits = (int)(next_rand(&s) % 65); /* values of every length, 0 and UINT64_MAX */
      uint64_t v = bits == 64 ? next_rand(&s) | UINT64_C(1) << 63
                              : next_rand(&s) & ((UINT64_C(1) << bits) - 1);
      rec_put_uv(&b, v);
    }
    assert_false(b.oom);
    for (size_t cut = 0; cut <= b.n; cut++) check_sequence(b.p, cut);
    rec_buf_free(&b);
  }
}

static void test_random_bytes(void **state) {
  (void)state;
  uint64_t s = 0x243f6a8885a308d3u;
  unsigned char buf[40];
  for (int round = 0; round < 200000; round++) {
    size_t n = (size_t)(next_rand(&s) % (sizeof buf + 1));
    for (size_t i = 0; i < n; i++) {
      uint64_t r = next_rand(&s);
      /* mostly continuation bytes, so 10-byte forms and their tenth byte come up often */
      buf[i] = (unsigned char)(r % 4 ? 0x80 | (r >> 8) : r % 16 == 0 ? (r >> 8) % 3 : r >> 8);
    }
    check_sequence(buf, n);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_written_values_cut_anywhere),
      cmocka_unit_test(test_random_bytes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

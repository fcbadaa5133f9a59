/* test_ctl_input.c -- patronctl import's input parsing. The CSV reader
 * (adapters/c/patronctl_csv.c): the fast split of
 * unquoted lines (16 bytes at a time) against a plain split on commas, over random lines of
 * every length around the 16-byte blocks, CRLF ends, empty fields, more fields than kept,
 * and the end of the input without a newline (an exact-size buffer, so that a read past it
 * shows under ASan); quoted lines (which take the byte-by-byte path) on the same input.
 * parse_timestamp (patronctl_util.c): its strptime-free path for "YYYY-MM-DD HH:MM[:SS]"
 * against strptime + timegm over random dates of 1900-2399, invalid dates rejected by both. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "patronctl_csv.h"
#include "patronctl_util.h"

/* The fields of one unquoted line (no '\n'): split on commas, a trailing '\r' dropped. */
static int plain_split(const char *s, size_t n, fld_t *f) {
  int nf = 0;
  size_t start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n && s[i] != ',') continue;
    size_t end = i;
    if (end > start && s[end - 1] == '\r') end--;
    if (nf < CSV_MAX_FIELDS) f[nf++] = (fld_t){s + start, end - start};
    start = i + 1;
  }
  return nf;
}

static uint64_t rng = 88172645463325252ull;
static unsigned rnd(unsigned n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (unsigned)(rng % n);
}

static void test_unquoted_lines(void **state) {
  (void)state;
  static const char alphabet[] = "ab,,,\r 9.";
  for (int round = 0; round < 2000; round++) {
    int nlines = 1 + (int)rnd(4);
    char text[4096];
    size_t len = 0, starts[8], lens[8];
    for (int l = 0; l < nlines; l++) {
      size_t n = rnd(8) == 0 ? 60 + rnd(200) : rnd(40); /* sometimes > 64 fields */
      starts[l] = len;
      for (size_t k = 0; k < n; k++) text[len++] = alphabet[rnd(sizeof alphabet - 1)];
      if (n > 0 && text[starts[l]] == '\r') text[starts[l]] = 'x'; /* skipped as blank */
      if (n > 0 && text[len - 1] == '\r' && l == nlines - 1) text[len - 1] = 'z';
      if (n == 0 || (n == 1 && text[len - 1] == '\r')) text[len++] = 'y'; /* not blank */
      lens[l] = len - starts[l];
      if (l < nlines - 1 || rnd(2)) text[len++] = '\n';
    }
    char *buf = malloc(len + 1); /* exact size, as csv_read_all's NUL-terminated buffer */
    memcpy(buf, text, len);
    buf[len] = '\0';
    csv_t c;
    memset(&c, 0, sizeof c);
    c.buf = buf;
    c.len = len;
    c.line = 1;
    for (int l = 0; l < nlines; l++) {
      assert_int_equal(csv_next(&c), 0);
      assert_int_equal(c.rec_line, l + 1);
      fld_t want[CSV_MAX_FIELDS];
      int nf = plain_split(buf + starts[l], lens[l], want);
      assert_int_equal(c.nf, nf);
      for (int k = 0; k < nf; k++) {
        assert_int_equal(c.f[k].n, want[k].n);
        assert_ptr_equal(c.f[k].p, want[k].p);
      }
    }
    assert_int_equal(csv_next(&c), 1);
    free(buf);
  }
}

static void test_quoted_lines(void **state) {
  (void)state;
  static const char text[] =
      "a,\"b,\"\"c\"\"\",d\r\n"
      "1234567890123456,\"multi\nline\",x\n"
      "plain,row,of,seventeen bytes+,and more to pass 16\n"
      "\"q\"";
  size_t len = sizeof text - 1;
  char *buf = malloc(len + 1);
  memcpy(buf, text, len + 1);
  csv_t c;
  memset(&c, 0, sizeof c);
  c.buf = buf;
  c.len = len;
  c.line = 1;
  assert_int_equal(csv_next(&c), 0);
  assert_int_equal(c.nf, 3);
  assert_int_equal(c.f[1].n, 5);
  assert_memory_equal(c.f[1].p, "b,\"c\"", 5);
  assert_memory_equal(c.f[2].p, "d", 1);
  assert_int_equal(c.f[2].n, 1);
  assert_int_equal(csv_next(&c), 0);
  assert_int_equal(c.rec_line, 2);
  assert_int_equal(c.nf, 3);
  assert_int_equal(c.f[1].n, 10);
  assert_memory_equal(c.f[1].p, "multi\nline", 10);
  assert_int_equal(csv_next(&c), 0);
  assert_int_equal(c.rec_line, 4); /* the quoted newline counts */
  assert_int_equal(c.nf, 5);
  assert_memory_equal(c.f[4].p, "and more to pass 16", 19);
  assert_int_equal(csv_next(&c), 0);
  assert_int_equal(c.nf, 1);
  assert_int_equal(c.f[0].n, 1);
  assert_int_equal(csv_next(&c), 1);
  free(buf);
}

/* What the C library makes of a "YYYY-MM-DD HH:MM:SS" text (UTC); -1 when strptime refuses. */
static int64_t libc_seconds(const char *s) {
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  const char *e = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
  return e && !*e ? (int64_t)timegm(&tm) : -1;
}

static void test_timestamps(void **state) {
  (void)state;
  for (int i = 0; i < 20000; i++) {
    char t[80];
    int y = 1900 + (int)rnd(500), mo = 1 + (int)rnd(12), d = 1 + (int)rnd(31);
    int h = (int)rnd(24), mi = (int)rnd(60), sec = (int)rnd(60);
    snprintf(t, sizeof t, "%04d-%02d-%02d %02d:%02d:%02d", y, mo, d, h, mi, sec);
    int64_t got = 0, want = libc_seconds(t);
    /* strptime takes day 31 of any month and timegm rolls it over: compare only real dates
     * (a date that does not exist is left to strptime by parse_timestamp, as before) */
    struct tm back;
    time_t tt = (time_t)want;
    gmtime_r(&tt, &back);
    if (back.tm_mday != d) continue;
    assert_int_equal(parse_timestamp(t, strlen(t), &got), 0);
    if (got != want) fail_msg("%s: %lld, libc %lld", t, (long long)got, (long long)want);
    t[16] = '\0'; /* without seconds */
    assert_int_equal(parse_timestamp(t, 16, &got), 0);
    assert_int_equal(got, want - sec);
  }
  int64_t v;
  assert_int_equal(parse_timestamp("2011-12-09 12:50", 16, &v), 0);
  assert_int_equal(v, 1323435000); /* date -u -d '2011-12-09 12:50' +%s */
  assert_int_equal(parse_timestamp("2012-02-29 00:00:00", 19, &v), 0);
  assert_int_equal(v, 1330473600);
  assert_int_equal(parse_timestamp("2011-13-01 00:00", 16, &v), -1);
  assert_int_equal(parse_timestamp("2011-1x-01 00:00", 16, &v), -1);
  assert_int_equal(parse_timestamp("2011-01-01 24:00", 16, &v), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_unquoted_lines),
                                     cmocka_unit_test(test_quoted_lines),
                                     cmocka_unit_test(test_timestamps)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}

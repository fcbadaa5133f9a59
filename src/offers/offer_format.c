/* offer_format.c -- decimal text for offers.decide's reasons without printf: a double in
 * fixed notation exactly as printf's "%.Nf" prints it (round half to even on the exact binary
 * value, "-" before any negative value, even one that rounds to zero), for the magnitudes a
 * reason shows; anything else (NaN, infinities, |x| >= 1e15, |x| * 10^prec >= 1e19) is left to
 * printf (returns 0).
 * Invariant: any output is byte-identical to snprintf(out, 32, "%.*f", prec, x)
 * (test_format_fixed in tests/unit/test_offers_fastpath.c compares them over random and
 * halfway values). */
#include <math.h>
#include <string.h>

#include "offers/offers.h"

static const uint64_t POW10[] = {1, 10, 100, 1000, 10000, 100000, 1000000};

size_t offers_format_fixed(char *out, double x, int prec) {
  if (prec < 0 || prec > 6 || !isfinite(x) || fabs(x) >= 1e15 ||
      fabs(x) * (double)POW10[prec] >= 1e19) /* the rounded integer must fit 64 bits */
    return 0;
  char *p = out;
  if (signbit(x)) *p++ = '-';
  uint64_t bits;
  memcpy(&bits, &x, sizeof bits);
  int e = (int)(bits >> 52 & 0x7ff);            /* finite: e < 0x7ff */
  uint64_t m = bits & ((UINT64_C(1) << 52) - 1); /* |x| = m / 2^s, m exact: */
  int s = 1074;                                  /* a subnormal or 0: m * 2^-1074 */
  if (e) m |= UINT64_C(1) << 52, s = 1075 - e;   /* normal: 1.m * 2^(e - 1023) */
  unsigned __int128 t = (unsigned __int128)m * POW10[prec];
  uint64_t q;
  if (s <= 0) {
    q = (uint64_t)(t << -s); /* an integer below 1e15 * 1e6 < 2^64 */
  } else if (s >= 100) {
    q = 0; /* t < 2^74 <= half of 2^s: rounds to 0 */
  } else {
    unsigned __int128 one = (unsigned __int128)1 << s, r = t & (one - 1), half = one >> 1;
    q = (uint64_t)(t >> s);
    if (r > half || (r == half && (q & 1))) q++;
  }
  uint64_t ip = q / POW10[prec], fp = q % POW10[prec];
  char tmp[24];
  int n = 0;
  do tmp[n++] = (char)('0' + ip % 10); while ((ip /= 10));
  while (n) *p++ = tmp[--n];
  if (prec) {
    *p++ = '.';
    for (int i = prec - 1; i >= 0; i--) p[i] = (char)('0' + fp % 10), fp /= 10;
    p += prec;
  }
  *p = 0;
  return (size_t)(p - out);
}

/* patronctl_util.c -- see patronctl_util.h. Exponents from ISO 4217's list of minor units. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "patronctl_util.h"

#include <string.h>
#include <time.h>

int currency_exponent(const char *cur) {
  static const char *const zero[] = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW",
                                     "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF",
                                     "XPF", NULL};
  static const char *const three[] = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND", NULL};
  static const char *const four[] = {"CLF", "UYW", NULL};
  for (int i = 0; zero[i]; i++)
    if (!strcmp(cur, zero[i])) return 0;
  for (int i = 0; three[i]; i++)
    if (!strcmp(cur, three[i])) return 3;
  for (int i = 0; four[i]; i++)
    if (!strcmp(cur, four[i])) return 4;
  return 2;
}

int decimal_to_minor(const char *s, size_t n, int exp, int64_t *out) {
  size_t i = 0;
  int neg = 0;
  if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
  int64_t v = 0;
  int digits = 0, frac = -1, extra = 0;
  for (; i < n; i++) {
    char ch = s[i];
    if (ch == '.' && frac < 0) {
      frac = 0;
      continue;
    }
    if (ch < '0' || ch > '9') return -1;
    digits++;
    if (frac >= 0 && frac >= exp) {
      if (ch != '0') extra = 1;
      continue;
    }
    if (frac >= 0) frac++;
    if (v > (INT64_MAX - 9) / 10) return -3;
    v = v * 10 + (ch - '0');
  }
  if (!digits) return -1;
  if (extra) return -2;
  for (int f = frac < 0 ? 0 : frac; f < exp; f++) {
    if (v > INT64_MAX / 10) return -3;
    v *= 10;
  }
  *out = neg ? -v : v;
  return 0;
}

/* n digits at s as a number, or -1. */
static int digits(const char *s, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar (the civil-from-days
 * inverse of H. Hinnant's "chrono-compatible low-level date algorithms"). */
static int64_t days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  int era = (y >= 0 ? y : y - 399) / 400;
  int yoe = y - era * 400;
  int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return (int64_t)era * 146097 + doe - 719468;
}

/* "YYYY-MM-DD HH:MM" or "YYYY-MM-DD HH:MM:SS" (a bulk file's usual form) without strptime;
 * 0, or -1 for any other form (then strptime decides). */
static int fast_datetime(const char *s, size_t n, int64_t *out) {
  if ((n != 16 && n != 19) || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' ||
      (n == 19 && s[16] != ':'))
    return -1;
  int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2), h = digits(s + 11, 2),
      mi = digits(s + 14, 2), sec = n == 19 ? digits(s + 17, 2) : 0;
  static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h < 0 || h > 23 || mi < 0 ||
      mi > 59 || sec < 0 || sec > 59)
    return -1;
  if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) return -1;
  *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
  return 0;
}

int parse_timestamp(const char *s, size_t n, int64_t *out) {
  if (fast_datetime(s, n, out) == 0) return 0;
  char buf[40];
  if (n == 0 || n >= sizeof buf) return -1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  size_t k = 0;
  while (k < n && buf[k] >= '0' && buf[k] <= '9') k++;
  if (k == n && n <= 12) {
    int64_t v = 0;
    for (size_t j = 0; j < n; j++) v = v * 10 + (buf[j] - '0');
    *out = v;
    return 0;
  }
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  const char *e = strptime(buf, "%Y-%m-%d", &tm);
  if (!e) return -1;
  if (*e == ' ' || *e == 'T') {
    const char *t = strptime(e + 1, "%H:%M:%S", &tm);
    if (!t) t = strptime(e + 1, "%H:%M", &tm);
    if (!t) return -1;
    e = t;
  }
  if (*e == 'Z') e++;
  if (*e) return -1;
  *out = (int64_t)timegm(&tm);
  return 0;
}

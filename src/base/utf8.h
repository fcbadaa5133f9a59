/* utf8.h -- decode UTF-8 into code points and UTF-16 code units, the way JavaScript sees a
 * string (GrowthBook hashes and compares UTF-16 code units). Invariant: an invalid or
 * truncated sequence decodes as U+FFFD and consumes one byte; never reads past len. */
#ifndef PATRON_UTF8_H
#define PATRON_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Next code point of s[0..len) at *i, advancing *i. Requires *i < len. */
uint32_t utf8_next(const unsigned char *s, size_t len, size_t *i);

/* Iterator over UTF-16 code units of a UTF-8 string. */
typedef struct utf16_iter_s {
  const unsigned char *s;
  size_t len, i;
  uint32_t pending; /* low surrogate still to yield, or 0 */
} utf16_iter_t;

void utf16_iter_init(utf16_iter_t *it, const char *s, size_t len);
/* Next code unit, or -1 at the end. */
int32_t utf16_iter_next(utf16_iter_t *it);

/* Compare two UTF-8 strings by UTF-16 code units (JavaScript's < on strings): <0, 0, >0. */
int utf16_compare(const char *a, size_t alen, const char *b, size_t blen);

#endif

/* utf8.c -- UTF-8 to code points / UTF-16 code units (see utf8.h). Pure, no allocation. */
#include "base/utf8.h"

uint32_t utf8_next(const unsigned char *s, size_t len, size_t *i) {
  unsigned char c = s[*i];
  uint32_t cp;
  size_t need;
  if (c < 0x80) {
    (*i)++;
    return c;
  } else if (c >= 0xC2 && c <= 0xDF) {
    cp = c & 0x1F, need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    cp = c & 0x0F, need = 2;
  } else if (c >= 0xF0 && c <= 0xF4) {
    cp = c & 0x07, need = 3;
  } else {
    (*i)++;
    return 0xFFFD;
  }
  if (*i + need >= len) { /* truncated sequence */
    (*i)++;
    return 0xFFFD;
  }
  for (size_t k = 1; k <= need; k++) {
    unsigned char cc = s[*i + k];
    if ((cc & 0xC0) != 0x80) {
      (*i)++;
      return 0xFFFD;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  /* overlong, surrogate or out-of-range encodings are invalid */
  if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    (*i)++;
    return 0xFFFD;
  }
  *i += need + 1;
  return cp;
}

void utf16_iter_init(utf16_iter_t *it, const char *s, size_t len) {
  it->s = (const unsigned char *)s;
  it->len = len;
  it->i = 0;
  it->pending = 0;
}

int32_t utf16_iter_next(utf16_iter_t *it) {
  if (it->pending) {
    int32_t u = (int32_t)it->pending;
    it->pending = 0;
    return u;
  }
  if (it->i >= it->len) return -1;
  if (it->s[it->i] < 0x80) return it->s[it->i++];
  uint32_t cp = utf8_next(it->s, it->len, &it->i);
  if (cp >= 0x10000) {
    cp -= 0x10000;
    it->pending = 0xDC00 + (cp & 0x3FF);
    return (int32_t)(0xD800 + (cp >> 10));
  }
  return (int32_t)cp;
}

int utf16_compare(const char *a, size_t alen, const char *b, size_t blen) {
  utf16_iter_t x, y;
  utf16_iter_init(&x, a, alen);
  utf16_iter_init(&y, b, blen);
  for (;;) {
    int32_t u = utf16_iter_next(&x), v = utf16_iter_next(&y);
    if (u != v) return u < v ? -1 : 1;
    if (u < 0) return 0;
  }
}

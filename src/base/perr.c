/* perr.c -- names and messages for the codes in perr.h, and perr_set.
 * Invariant: e->message and e->field are always valid UTF-8 (client bytes that are not are
 * written as "\xFF" text, and truncation never cuts a character), so a strict msgpack
 * decoder (str = UTF-8) can always read an error. */
#include "base/perr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *perr_name(int code) {
  switch (code) {
    case PERR_OK: return "ok";
#define XX(name, val, wire, msg) case PERR_##name: return wire;
    PERR_MAP(XX)
#undef XX
  }
  return "internal";
}

const char *perr_message(int code) {
  switch (code) {
    case PERR_OK: return "ok";
#define XX(name, val, wire, msg) case PERR_##name: return msg;
    PERR_MAP(XX)
#undef XX
  }
  return "internal error";
}

int perr_from_name(const char *name, size_t len) {
#define XX(n, val, wire, msg) \
  if (len == strlen(wire) && memcmp(name, wire, len) == 0) return PERR_##n;
  PERR_MAP(XX)
#undef XX
  return PERR_INTERNAL;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when the bytes there are not one
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_len(const unsigned char *s, size_t n) {
  if (s[0] < 0x80) return 1;
  size_t len;
  unsigned cp;
  if (s[0] >= 0xc2 && s[0] <= 0xdf) { len = 2; cp = s[0] & 0x1fu; }
  else if (s[0] >= 0xe0 && s[0] <= 0xef) { len = 3; cp = s[0] & 0x0fu; }
  else if (s[0] >= 0xf0 && s[0] <= 0xf4) { len = 4; cp = s[0] & 0x07u; }
  else return 0;
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3fu);
  }
  if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
      (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
    return 0;
  return len;
}

size_t perr_utf8_copy(char *dst, size_t cap, const char *src, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  const unsigned char *s = (const unsigned char *)src;
  size_t o = 0;
  if (cap == 0) return 0;
  for (size_t i = 0; i < n;) {
    size_t k = utf8_len(s + i, n - i);
    if (k) {
      if (o + k >= cap) break;
      memcpy(dst + o, s + i, k);
      o += k;
      i += k;
    } else {
      if (o + 4 >= cap) break;
      dst[o++] = '\\';
      dst[o++] = 'x';
      dst[o++] = hex[s[i] >> 4];
      dst[o++] = hex[s[i] & 15];
      i++;
    }
  }
  dst[o] = 0;
  return o;
}

int perr_set(perr_info_t *e, int code, const char *field, const char *fmt, ...) {
  char raw[sizeof e->message];
  if (!e) return code;
  e->code = code;
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
  } else {
    snprintf(raw, sizeof raw, "%s", perr_message(code));
  }
  perr_utf8_copy(e->message, sizeof e->message, raw, strlen(raw));
  if (!field) field = "";
  perr_utf8_copy(e->field, sizeof e->field, field, strlen(field));
  return code;
}

/* perr.c -- names and messages for the codes in perr.h. */
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

int perr_set(perr_info_t *e, int code, const char *field, const char *fmt, ...) {
  if (!e) return code;
  e->code = code;
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
  } else {
    snprintf(e->message, sizeof e->message, "%s", perr_message(code));
  }
  snprintf(e->field, sizeof e->field, "%s", field ? field : "");
  return code;
}

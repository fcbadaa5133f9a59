/* perr.h -- Patron's error codes: one X-macro list yields the enum, the stable wire names
 * and the default messages. 0 is OK; every error is negative (libuv style).
 * Invariant: wire names never change once released; new codes are appended. */
#ifndef PATRON_PERR_H
#define PATRON_PERR_H

#include <stddef.h>

#define PERR_MAP(XX)                                                                 \
  XX(INVALID_REQUEST, -1, "invalid_request", "malformed msgpack-RPC message")       \
  XX(UNKNOWN_METHOD, -2, "unknown_method", "no such method")                        \
  XX(INVALID_PARAMS, -3, "invalid_params", "invalid parameters")                    \
  XX(NOT_FOUND, -4, "not_found", "not found")                                       \
  XX(CONFLICT, -5, "conflict", "conflicts with an earlier write")                   \
  XX(TOO_LARGE, -6, "too_large", "message exceeds a configured limit")              \
  XX(FORBIDDEN, -7, "forbidden", "method not allowed on this listener")             \
  XX(UNAVAILABLE, -8, "unavailable", "service unavailable")                         \
  XX(INTERNAL, -9, "internal", "internal error")                                    \
  XX(INSUFFICIENT_DATA, -10, "insufficient_data", "not enough data")                \
  XX(TIMEOUT, -11, "timeout", "deadline exceeded")

typedef enum {
  PERR_OK = 0,
#define XX(name, val, wire, msg) PERR_##name = (val),
  PERR_MAP(XX)
#undef XX
} perr_t;

/* Stable wire name of an error code ("invalid_params"); "internal" for unknown codes. */
const char *perr_name(int code);
/* Default English message for a code. */
const char *perr_message(int code);
/* Code for a wire name, or PERR_INTERNAL if unknown. */
int perr_from_name(const char *name, size_t len);

/* A structured error: {code, message, field}. Fixed-size so it never allocates. */
typedef struct perr_info_s {
  int code;
  char message[160];
  char field[64];
} perr_info_t;

/* Copy n bytes of src into dst (cap bytes, NUL-terminated) as valid UTF-8: each byte that does
 * not start a valid UTF-8 character becomes the 4 characters "\xHH"; stops before a
 * character that would not fit. Returns the bytes written (without the NUL). */
size_t perr_utf8_copy(char *dst, size_t cap, const char *src, size_t n);

/* Fill *e (if non-NULL) and return code. fmt may be NULL (default message). The message and
 * field are made valid UTF-8 with perr_utf8_copy (client bytes may be in them). */
int perr_set(perr_info_t *e, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif

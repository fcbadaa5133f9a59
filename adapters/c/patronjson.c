/* patronjson.c -- JSON <-> msgpack conversion for libpatronclient's JSON convenience call
 * and patronctl.
 *
 * Owns: JSON text -> msgpack (parsed with jansson, a well-kept library, rather than a JSON
 * parser of our own) and msgpack object -> JSON text (a small emitter of our own, because
 * jansson's integers are signed 64-bit and a uint64 above INT64_MAX must stay exact).
 *
 * Invariants:
 *  - Integers stay integers and floats stay floats in both directions: a JSON integer
 *    becomes a msgpack int (int64 range; jansson refuses larger), a JSON real a float64;
 *    msgpack ints are printed exactly (int64/uint64), floats always with '.' or an
 *    exponent, in the shortest form that reads back to the same value; NaN/Inf -> null.
 *  - Output is valid UTF-8 JSON whatever the input bytes: invalid UTF-8 in msgpack strings
 *    becomes U+FFFD, control characters are escaped.
 *  - Numbers are formatted and parsed in the "C" locale (thread-locally), so a host
 *    process that set LC_NUMERIC (PHP, Python) cannot turn 1.5 into "1,5".
 *  - No global state: safe to use from several threads at once.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <inttypes.h>
#include <jansson.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "mpscan.h"

int pc_seterr(patron_error_t *e, int status, const char *code, const char *field,
              const char *fmt, ...) {
  if (!e) return status;
  e->status = status;
  snprintf(e->code, sizeof e->code, "%s", code ? code : "");
  snprintf(e->field, sizeof e->field, "%s", field ? field : "");
  e->message[0] = '\0';
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
  }
  return status;
}

/* ---- JSON -> msgpack ------------------------------------------------------------- */

static int pack_json(msgpack_packer *pk, const json_t *j) {
  int r = 0;
  switch (json_typeof(j)) {
  case JSON_OBJECT: {
    r = msgpack_pack_map(pk, json_object_size(j));
    for (void *it = json_object_iter((json_t *)j); it && r == 0;
         it = json_object_iter_next((json_t *)j, it)) {
      size_t kl = json_object_iter_key_len(it);
      r = msgpack_pack_str(pk, kl);
      if (r == 0) r = msgpack_pack_str_body(pk, json_object_iter_key(it), kl);
      if (r == 0) r = pack_json(pk, json_object_iter_value(it));
    }
    return r;
  }
  case JSON_ARRAY: {
    size_t n = json_array_size(j);
    r = msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n && r == 0; i++) r = pack_json(pk, json_array_get(j, i));
    return r;
  }
  case JSON_STRING: {
    size_t n = json_string_length(j);
    r = msgpack_pack_str(pk, n);
    return r ? r : msgpack_pack_str_body(pk, json_string_value(j), n);
  }
  case JSON_INTEGER: return msgpack_pack_int64(pk, (int64_t)json_integer_value(j));
  case JSON_REAL: return msgpack_pack_double(pk, json_real_value(j));
  case JSON_TRUE: return msgpack_pack_true(pk);
  case JSON_FALSE: return msgpack_pack_false(pk);
  case JSON_NULL: return msgpack_pack_nil(pk);
  }
  return -1;
}

int pc_json_pack(const char *json, size_t len, int require_object, msgpack_packer *pk,
                 patron_error_t *err) {
  json_error_t je;
  json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
  if (!root)
    return pc_seterr(err, PATRON_E_INVALID, "invalid_params", NULL,
                     "params JSON: %s (line %d, column %d)", je.text, je.line, je.column);
  if (require_object && !json_is_object(root)) {
    json_decref(root);
    return pc_seterr(err, PATRON_E_INVALID, "invalid_params", NULL,
                     "params JSON must be an object");
  }
  int r = pack_json(pk, root);
  json_decref(root);
  if (r != 0) return pc_seterr(err, PATRON_E_NOMEM, "nomem", NULL, "out of memory");
  return PATRON_OK;
}

int patron_json_to_msgpack(const char *json, size_t json_len, void **out, size_t *out_len,
                           patron_error_t *err) {
  if (out) *out = NULL;
  if (out_len) *out_len = 0;
  if (!json || !out || !out_len)
    return pc_seterr(err, PATRON_E_INVALID, "invalid_params", NULL, "NULL argument");
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  int r = pc_json_pack(json, json_len, 0, &pk, err);
  if (r != PATRON_OK) {
    msgpack_sbuffer_destroy(&sb);
    return r;
  }
  *out_len = sb.size;
  *out = msgpack_sbuffer_release(&sb);
  if (err) pc_seterr(err, PATRON_OK, "", NULL, NULL);
  return PATRON_OK;
}

/* ---- msgpack -> JSON ------------------------------------------------------------- */

typedef struct {
  char *p;
  size_t len, cap;
  int oom;
  int indent;
  int key_depth; /* rendering a non-string key inside this many non-string keys */
  locale_t cloc; /* "C" numeric locale, created on the first float */
} jbuf;

/* A non-string key is rendered as its JSON text in a string, so a key inside a key is escaped
 * once more at every level and the output doubles per level (a 64-byte input would need
 * gigabytes). Keys nested deeper than this are rendered as "..." (patrond sends string keys
 * only). */
#define JB_MAX_KEY_DEPTH 3

static void jb_put(jbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) {
      b->oom = 1;
      return;
    }
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void jb_puts(jbuf *b, const char *s) { jb_put(b, s, strlen(s)); }

static void jb_newline(jbuf *b, int level) {
  if (b->indent <= 0) return;
  jb_put(b, "\n", 1);
  for (int i = 0; i < level * b->indent; i++) jb_put(b, " ", 1);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t need;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) { need = 2; cp = c & 0x1f; }
  else if (c >= 0xe0 && c <= 0xef) { need = 3; cp = c & 0x0f; }
  else if (c >= 0xf0 && c <= 0xf4) { need = 4; cp = c & 0x07; }
  else return 0;
  if (n < need) return 0;
  for (size_t i = 1; i < need; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if ((need == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
      (need == 4 && (cp < 0x10000 || cp > 0x10ffff)))
    return 0;
  return need;
}

static void jb_string(jbuf *b, const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  jb_put(b, "\"", 1);
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      size_t j = i;
      while (j < n && s[j] >= 0x20 && s[j] < 0x80 && s[j] != '"' && s[j] != '\\') j++;
      jb_put(b, str + i, j - i);
      i = j;
      continue;
    }
    if (c < 0x80) {
      char esc[8];
      switch (c) {
      case '"': jb_put(b, "\\\"", 2); break;
      case '\\': jb_put(b, "\\\\", 2); break;
      case '\n': jb_put(b, "\\n", 2); break;
      case '\r': jb_put(b, "\\r", 2); break;
      case '\t': jb_put(b, "\\t", 2); break;
      case '\b': jb_put(b, "\\b", 2); break;
      case '\f': jb_put(b, "\\f", 2); break;
      default:
        snprintf(esc, sizeof esc, "\\u%04x", c);
        jb_put(b, esc, 6);
      }
      i++;
      continue;
    }
    size_t l = utf8_len(s + i, n - i);
    if (l == 0) {
      jb_put(b, "\xef\xbf\xbd", 3); /* U+FFFD for each invalid byte */
      i++;
    } else {
      jb_put(b, str + i, l);
      i += l;
    }
  }
  jb_put(b, "\"", 1);
}

/* Shortest "%.Ng" that reads back as the same value (float32 values compared as float). */
static void jb_float(jbuf *b, double v, int is32) {
  if (!isfinite(v)) {
    jb_puts(b, "null");
    return;
  }
  if (!b->cloc) {
    b->cloc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (!b->cloc) {
      b->oom = 1;
      return;
    }
  }
  locale_t old = uselocale(b->cloc);
  char tmp[40];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, v);
    double back = strtod(tmp, NULL);
    if (is32 ? (float)back == (float)v : back == v) break;
  }
  uselocale(old);
  jb_puts(b, tmp);
  if (!strpbrk(tmp, ".eE")) jb_puts(b, ".0");
}

static void jb_obj(jbuf *b, const msgpack_object *o, int level);

static void jb_key(jbuf *b, const msgpack_object *k) {
  if (k->type == MSGPACK_OBJECT_STR) {
    jb_string(b, k->via.str.ptr, k->via.str.size);
  } else if (k->type == MSGPACK_OBJECT_BIN) {
    jb_string(b, k->via.bin.ptr, k->via.bin.size);
  } else if (b->key_depth >= JB_MAX_KEY_DEPTH) {
    jb_string(b, "...", 3);
  } else {
    /* A JSON key must be a string: use the key's compact JSON text. */
    jbuf kb = {0};
    kb.cloc = b->cloc;
    kb.key_depth = b->key_depth + 1;
    jb_obj(&kb, k, 0);
    if (kb.oom) b->oom = 1;
    else jb_string(b, kb.p, kb.len);
    if (!b->cloc) b->cloc = kb.cloc;
    free(kb.p);
  }
}

static void jb_obj(jbuf *b, const msgpack_object *o, int level) {
  char tmp[32];
  switch (o->type) {
  case MSGPACK_OBJECT_NIL: jb_puts(b, "null"); break;
  case MSGPACK_OBJECT_BOOLEAN: jb_puts(b, o->via.boolean ? "true" : "false"); break;
  case MSGPACK_OBJECT_POSITIVE_INTEGER:
    snprintf(tmp, sizeof tmp, "%" PRIu64, o->via.u64);
    jb_puts(b, tmp);
    break;
  case MSGPACK_OBJECT_NEGATIVE_INTEGER:
    snprintf(tmp, sizeof tmp, "%" PRId64, o->via.i64);
    jb_puts(b, tmp);
    break;
  case MSGPACK_OBJECT_FLOAT32: jb_float(b, o->via.f64, 1); break;
  case MSGPACK_OBJECT_FLOAT64: jb_float(b, o->via.f64, 0); break;
  case MSGPACK_OBJECT_STR: jb_string(b, o->via.str.ptr, o->via.str.size); break;
  case MSGPACK_OBJECT_BIN: jb_string(b, o->via.bin.ptr, o->via.bin.size); break;
  case MSGPACK_OBJECT_EXT: {
    /* Not used by patrond; rendered as {"ext_type": n, "hex": "..."}. */
    snprintf(tmp, sizeof tmp, "{\"ext_type\":%d,\"hex\":\"", (int)o->via.ext.type);
    jb_puts(b, tmp);
    for (uint32_t i = 0; i < o->via.ext.size; i++) {
      snprintf(tmp, sizeof tmp, "%02x", (unsigned char)o->via.ext.ptr[i]);
      jb_put(b, tmp, 2);
    }
    jb_puts(b, "\"}");
    break;
  }
  case MSGPACK_OBJECT_ARRAY:
    if (o->via.array.size == 0) {
      jb_puts(b, "[]");
      break;
    }
    jb_put(b, "[", 1);
    for (uint32_t i = 0; i < o->via.array.size; i++) {
      if (i) jb_put(b, ",", 1);
      jb_newline(b, level + 1);
      jb_obj(b, &o->via.array.ptr[i], level + 1);
    }
    jb_newline(b, level);
    jb_put(b, "]", 1);
    break;
  case MSGPACK_OBJECT_MAP:
    if (o->via.map.size == 0) {
      jb_puts(b, "{}");
      break;
    }
    jb_put(b, "{", 1);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
      if (i) jb_put(b, ",", 1);
      jb_newline(b, level + 1);
      jb_key(b, &o->via.map.ptr[i].key);
      jb_puts(b, b->indent > 0 ? ": " : ":");
      jb_obj(b, &o->via.map.ptr[i].val, level + 1);
    }
    jb_newline(b, level);
    jb_put(b, "}", 1);
    break;
  default: jb_puts(b, "null"); break;
  }
}

char *pc_obj_to_json(const msgpack_object *o, int indent) {
  jbuf b = {0};
  b.indent = indent;
  jb_obj(&b, o, 0);
  if (b.cloc) freelocale(b.cloc);
  if (b.oom || !b.p) {
    free(b.p);
    return NULL;
  }
  return b.p;
}

char *pc_error_json(const patron_error_t *e) {
  jbuf b = {0};
  jb_puts(&b, "{\"code\":");
  jb_string(&b, e->code, strlen(e->code));
  jb_puts(&b, ",\"message\":");
  jb_string(&b, e->message, strlen(e->message));
  if (e->field[0]) {
    jb_puts(&b, ",\"field\":");
    jb_string(&b, e->field, strlen(e->field));
  }
  jb_puts(&b, "}");
  if (b.oom) {
    free(b.p);
    return NULL;
  }
  return b.p;
}

char *patron_msgpack_to_json(const void *data, size_t len, int indent) {
  if (!data || len == 0) return NULL;
  msgpack_unpacked up;
  msgpack_unpacked_init(&up);
  size_t off = 0, flen = 0;
  char *out = NULL;
  /* Scan first so msgpack-c never sees an oversize header or too deep a nesting. */
  mpscan_t sc;
  mpscan_init(&sc);
  if (mpscan_feed(&sc, data, len, len, &flen) == MPSCAN_DONE && flen == len &&
      msgpack_unpack_next(&up, data, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len)
    out = pc_obj_to_json(&up.data, indent < 0 ? 0 : indent);
  msgpack_unpacked_destroy(&up);
  return out;
}

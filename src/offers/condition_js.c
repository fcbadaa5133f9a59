/* condition_js.c -- the JavaScript value semantics GrowthBook's condition evaluator relies
 * on (String(), Number(), truthiness, ===, JSON.stringify equality, relational comparison,
 * padded version strings), over jansson values. Invariant: pure; only condition_js_str_t allocates. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "offers/condition_internal.h"

void condition_js_str_init(condition_js_str_t *s) {
  s->p = s->buf;
  s->len = 0;
  s->cap = sizeof s->buf;
  s->buf[0] = 0;
}

void condition_js_str_free(condition_js_str_t *s) {
  if (s->p != s->buf) free(s->p);
  condition_js_str_init(s);
}

static void condition_js_str_add(condition_js_str_t *s, const char *p, size_t n) {
  if (s->len + n + 1 > s->cap) {
    size_t cap = s->cap * 2;
    while (cap < s->len + n + 1) cap *= 2;
    char *q = malloc(cap);
    if (!q) abort(); /* out of memory while formatting an attribute: nothing sane to do */
    memcpy(q, s->p, s->len);
    if (s->p != s->buf) free(s->p);
    s->p = q;
    s->cap = cap;
  }
  memcpy(s->p + s->len, p, n);
  s->len += n;
  s->p[s->len] = 0;
}

static void condition_js_str_cat(condition_js_str_t *s, const char *p) { condition_js_str_add(s, p, strlen(p)); }

/* ECMAScript Number::toString(x) for a finite or infinite double. */
static void number_to_string(double x, condition_js_str_t *out) {
  if (isnan(x)) return condition_js_str_cat(out, "NaN");
  if (x == 0) return condition_js_str_cat(out, "0");
  if (x < 0) {
    condition_js_str_cat(out, "-");
    x = -x;
  }
  if (isinf(x)) return condition_js_str_cat(out, "Infinity");
  char tmp[40];
  int p = 1;
  for (; p <= 17; p++) { /* shortest digit string that reads back as x */
    snprintf(tmp, sizeof tmp, "%.*e", p - 1, x);
    if (strtod(tmp, NULL) == x) break;
  }
  char digits[20];
  int k = 0;
  char *e = strchr(tmp, 'e');
  for (char *c = tmp; c < e; c++)
    if (*c >= '0' && *c <= '9') digits[k++] = *c;
  while (k > 1 && digits[k - 1] == '0') k--;
  int n = atoi(e + 1) + 1; /* x = 0.d1d2... * 10^n */
  char buf[64];
  int len = 0;
  if (k <= n && n <= 21) {
    memcpy(buf, digits, (size_t)k);
    len = k;
    for (int i = 0; i < n - k; i++) buf[len++] = '0';
  } else if (0 < n && n <= 21) {
    memcpy(buf, digits, (size_t)n);
    len = n;
    buf[len++] = '.';
    /* cppcheck-suppress pointerOutOfBoundsCond ; here n < k <= 17 < sizeof digits */
    memcpy(buf + len, digits + n, (size_t)(k - n));
    len += k - n;
  } else if (-6 < n && n <= 0) {
    buf[len++] = '0';
    buf[len++] = '.';
    for (int i = 0; i < -n; i++) buf[len++] = '0';
    memcpy(buf + len, digits, (size_t)k);
    len += k;
  } else {
    buf[len++] = digits[0];
    if (k > 1) {
      buf[len++] = '.';
      memcpy(buf + len, digits + 1, (size_t)(k - 1));
      len += k - 1;
    }
    len += snprintf(buf + len, sizeof buf - (size_t)len, "e%c%d", n - 1 >= 0 ? '+' : '-',
                    abs(n - 1));
  }
  condition_js_str_add(out, buf, (size_t)len);
}

static void to_string_into(const json_t *v, condition_js_str_t *out, int depth) {
  switch (v ? json_typeof(v) : JSON_NULL) {
  case JSON_NULL: return condition_js_str_cat(out, "null");
  case JSON_TRUE: return condition_js_str_cat(out, "true");
  case JSON_FALSE: return condition_js_str_cat(out, "false");
  case JSON_STRING: return condition_js_str_add(out, json_string_value(v), json_string_length(v));
  case JSON_INTEGER: {
    json_int_t i = json_integer_value(v);
    if (i > -(1LL << 53) && i < (1LL << 53)) {
      char b[24];
      int n = snprintf(b, sizeof b, "%lld", (long long)i);
      return condition_js_str_add(out, b, (size_t)n);
    }
    return number_to_string((double)i, out);
  }
  case JSON_REAL: return number_to_string(json_real_value(v), out);
  case JSON_ARRAY:
    if (depth > 32) return; /* cyclic-safe bound; JSON from the wire is a tree anyway */
    for (size_t i = 0; i < json_array_size(v); i++) {
      if (i) condition_js_str_cat(out, ",");
      const json_t *el = json_array_get(v, i);
      if (!json_is_null(el)) to_string_into(el, out, depth + 1);
    }
    return;
  case JSON_OBJECT: return condition_js_str_cat(out, "[object Object]");
  }
}

void condition_js_to_string(const json_t *v, condition_js_str_t *out) { to_string_into(v, out, 0); }

static bool condition_js_space(uint32_t c) {
  return c == 9 || c == 10 || c == 11 || c == 12 || c == 13 || c == 32 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

/* StringToNumber: the whole trimmed string must be a numeric literal. */
double condition_js_string_to_number(const char *s, size_t len) {
  const unsigned char *u = (const unsigned char *)s;
  size_t a = 0, b = len;
  while (a < b) { /* trim leading */
    size_t j = a;
    if (!condition_js_space(utf8_next(u, len, &j))) break;
    a = j;
  }
  while (b > a) { /* trim trailing: step back over one code point */
    size_t start = b - 1;
    while (start > a && (u[start] & 0xC0) == 0x80) start--;
    size_t j = start;
    if (!condition_js_space(utf8_next(u, len, &j)) || j != b) break;
    b = start;
  }
  if (a == b) return 0;
  char buf[128];
  size_t n = b - a;
  if (n >= sizeof buf) return NAN; /* longer than any sane literal */
  memcpy(buf, s + a, n);
  buf[n] = 0;
  const char *p = buf;
  if (n > 2 && p[0] == '0' && strchr("xXoObB", p[1])) {
    int base = (p[1] == 'x' || p[1] == 'X') ? 16 : (p[1] == 'o' || p[1] == 'O') ? 8 : 2;
    double r = 0;
    for (const char *c = p + 2; *c; c++) {
      int d = (*c >= '0' && *c <= '9')   ? *c - '0'
              : (*c >= 'a' && *c <= 'f') ? *c - 'a' + 10
              : (*c >= 'A' && *c <= 'F') ? *c - 'A' + 10
                                         : 99;
      if (d >= base) return NAN;
      r = r * base + d;
    }
    return r;
  }
  const char *q = p;
  if (*q == '+' || *q == '-') q++;
  if (strcmp(q, "Infinity") == 0) return p[0] == '-' ? -INFINITY : INFINITY;
  /* StrDecimalLiteral: digits [. digits] [e [+-] digits], at least one digit before e */
  int digits = 0;
  while (*q >= '0' && *q <= '9') q++, digits++;
  if (*q == '.') {
    q++;
    while (*q >= '0' && *q <= '9') q++, digits++;
  }
  if (!digits) return NAN;
  if (*q == 'e' || *q == 'E') {
    q++;
    if (*q == '+' || *q == '-') q++;
    if (!(*q >= '0' && *q <= '9')) return NAN;
    while (*q >= '0' && *q <= '9') q++;
  }
  if (*q) return NAN;
  return strtod(p, NULL);
}

double condition_js_to_number(const json_t *v) {
  switch (v ? json_typeof(v) : JSON_NULL) {
  case JSON_NULL: return 0;
  case JSON_TRUE: return 1;
  case JSON_FALSE: return 0;
  case JSON_INTEGER: return (double)json_integer_value(v);
  case JSON_REAL: return json_real_value(v);
  case JSON_STRING: return condition_js_string_to_number(json_string_value(v), json_string_length(v));
  case JSON_ARRAY: {
    condition_js_str_t s;
    condition_js_str_init(&s);
    condition_js_to_string(v, &s);
    double d = condition_js_string_to_number(s.p, s.len);
    condition_js_str_free(&s);
    return d;
  }
  case JSON_OBJECT: return NAN;
  }
  return NAN;
}

bool condition_js_truthy(const json_t *v) {
  switch (v ? json_typeof(v) : JSON_NULL) {
  case JSON_NULL:
  case JSON_FALSE: return false;
  case JSON_TRUE: return true;
  case JSON_INTEGER: return json_integer_value(v) != 0;
  case JSON_REAL: {
    double d = json_real_value(v);
    return d != 0 && !isnan(d);
  }
  case JSON_STRING: return json_string_length(v) > 0;
  default: return true;
  }
}

bool condition_js_strict_equal(const json_t *a, const json_t *b) {
  if (!a) a = json_null();
  if (!b) b = json_null();
  if (json_is_number(a) && json_is_number(b)) {
    if (json_is_integer(a) && json_is_integer(b))
      return json_integer_value(a) == json_integer_value(b);
    return json_number_value(a) == json_number_value(b);
  }
  if (json_typeof(a) != json_typeof(b)) return false;
  switch (json_typeof(a)) {
  case JSON_STRING:
    return json_string_length(a) == json_string_length(b) &&
           memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
  case JSON_ARRAY:
  case JSON_OBJECT: return a == b;
  default: return true; /* null, true, false */
  }
}

/* Property order of JSON.stringify: array-index keys ascending, then insertion order. */
static bool index_key(const char *k, double *idx) {
  if (!k[0] || (k[0] == '0' && k[1]) || strlen(k) > 10) return false;
  double r = 0;
  for (const char *c = k; *c; c++) {
    if (*c < '0' || *c > '9') return false;
    r = r * 10 + (*c - '0');
  }
  if (r > 4294967294.0) return false;
  *idx = r;
  return true;
}

static size_t ordered_keys(const json_t *o, const char **keys, size_t cap) {
  size_t n = 0;
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)o, k, v) {
    (void)v;
    if (n < cap) keys[n++] = k;
  }
  /* insertion sort: stable, index keys first and ascending */
  for (size_t i = 1; i < n; i++) {
    const char *key = keys[i];
    double ik;
    bool isidx = index_key(key, &ik);
    size_t j = i;
    while (j > 0 && isidx) {
      double ij;
      if (index_key(keys[j - 1], &ij) && ij < ik) break;
      keys[j] = keys[j - 1];
      j--;
    }
    keys[j] = key;
  }
  return n;
}

static bool stringify_equal(const json_t *a, const json_t *b, int depth) {
  if (!a) a = json_null();
  if (!b) b = json_null();
  if (depth > 64) return false;
  if (json_is_number(a) && json_is_number(b)) return condition_js_strict_equal(a, b);
  if (json_typeof(a) != json_typeof(b)) return false;
  if (json_is_array(a)) {
    if (json_array_size(a) != json_array_size(b)) return false;
    for (size_t i = 0; i < json_array_size(a); i++)
      if (!stringify_equal(json_array_get(a, i), json_array_get(b, i), depth + 1)) return false;
    return true;
  }
  if (json_is_object(a)) {
    size_t n = json_object_size(a);
    if (n != json_object_size(b)) return false;
    const char *stack_a[32], *stack_b[32];
    const char **ka = n <= 32 ? stack_a : malloc(n * sizeof *ka);
    const char **kb = n <= 32 ? stack_b : malloc(n * sizeof *kb);
    bool eq = ka && kb;
    if (eq) {
      ordered_keys(a, ka, n);
      ordered_keys(b, kb, n);
      for (size_t i = 0; i < n && eq; i++)
        eq = strcmp(ka[i], kb[i]) == 0 &&
             stringify_equal(json_object_get(a, ka[i]), json_object_get(b, kb[i]), depth + 1);
    }
    if (ka != stack_a) free(ka);
    if (kb != stack_b) free(kb);
    return eq;
  }
  return condition_js_strict_equal(a, b);
}

bool condition_js_stringify_equal(const json_t *a, const json_t *b) { return stringify_equal(a, b, 0); }

/* ToPrimitive: arrays and objects become their strings. */
static bool primitive_is_string(const json_t *v) {
  return v && (json_is_string(v) || json_is_array(v) || json_is_object(v));
}

int condition_js_compare(const json_t *a, const json_t *b) {
  if (json_is_number(a) && json_is_number(b)) { /* the common case: what the end computes */
    double x = json_number_value(a), y = json_number_value(b);
    if (isnan(x) || isnan(y)) return 2;
    return x < y ? -1 : x > y;
  }
  if (primitive_is_string(a) && primitive_is_string(b)) {
    condition_js_str_t x, y;
    condition_js_str_init(&x);
    condition_js_str_init(&y);
    condition_js_to_string(a, &x);
    condition_js_to_string(b, &y);
    int c = utf16_compare(x.p, x.len, y.p, y.len);
    condition_js_str_free(&x);
    condition_js_str_free(&y);
    return c < 0 ? -1 : c > 0;
  }
  double x = condition_js_to_number(a), y = condition_js_to_number(b);
  if (isnan(x) || isnan(y)) return 2;
  return x < y ? -1 : x > y;
}

const char *condition_js_type_name(const json_t *v) {
  switch (v ? json_typeof(v) : JSON_NULL) {
  case JSON_NULL: return "null";
  case JSON_ARRAY: return "array";
  case JSON_OBJECT: return "object";
  case JSON_STRING: return "string";
  case JSON_TRUE:
  case JSON_FALSE: return "boolean";
  default: return "number";
  }
}

void condition_js_padded_version(const json_t *v, condition_js_str_t *out) {
  condition_js_str_t in;
  condition_js_str_init(&in);
  if (json_is_number(v) || (json_is_string(v) && json_string_length(v) > 0))
    condition_js_to_string(v, &in);
  else
    condition_js_str_cat(&in, "0");
  const char *s = in.p, *end = in.p + in.len;
  if (*s == 'v') s++;
  const char *plus = memchr(s, '+', (size_t)(end - s));
  if (plus) end = plus;
  size_t parts = 1;
  for (const char *c = s; c < end; c++) parts += (*c == '-' || *c == '.');
  const char *part = s;
  for (const char *c = s;; c++) {
    if (c == end || *c == '-' || *c == '.') {
      size_t n = (size_t)(c - part);
      bool numeric = n > 0;
      for (const char *d = part; d < c; d++) numeric = numeric && *d >= '0' && *d <= '9';
      if (part != s) condition_js_str_cat(out, "-");
      for (size_t pad = n; numeric && pad < 5; pad++) condition_js_str_cat(out, " ");
      condition_js_str_add(out, part, n);
      if (c == end) break;
      part = c + 1;
    }
  }
  if (parts == 3) condition_js_str_cat(out, "-~");
  condition_js_str_free(&in);
}

bool condition_js_equal_caseless(const char *a, size_t alen, const char *b, size_t blen) {
  if (alen != blen) return false;
  for (size_t i = 0; i < alen; i++) {
    unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
    if (x >= 'A' && x <= 'Z') x = (unsigned char)(x + 32);
    if (y >= 'A' && y <= 'Z') y = (unsigned char)(y + 32);
    if (x != y) return false;
  }
  return true;
}

/* condition_internal.h -- JavaScript value semantics over jansson values, used by the
 * condition evaluator (offers/ only). null stands for both JSON null and a missing value. */
#ifndef PATRON_CONDITION_INTERNAL_H
#define PATRON_CONDITION_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* A growable string; short strings stay in buf. */
typedef struct js_str_s {
  char *p;
  size_t len, cap;
  char buf[96];
} js_str_t;

void js_str_init(js_str_t *s);
void js_str_free(js_str_t *s);

/* String(v) as JavaScript: numbers in shortest round-trip form ("0.1", "1e+21"),
 * arrays joined with "," (null elements empty), objects "[object Object]". */
void js_to_string(const json_t *v, js_str_t *out);
/* Number(v): null 0, booleans 0/1, strings parsed (blank -> 0, junk -> NaN), arrays via
 * their string, objects NaN. */
double js_to_number(const json_t *v);
/* JavaScript truthiness. */
bool js_truthy(const json_t *v);
/* a === b (arrays and objects are never equal: JSON-parsed values have distinct identity). */
bool js_strict_equal(const json_t *a, const json_t *b);
/* JSON.stringify(a) === JSON.stringify(b). */
bool js_stringify_equal(const json_t *a, const json_t *b);
/* Abstract relational comparison: -1, 0, 1, or 2 when unordered (NaN involved). */
int js_compare(const json_t *a, const json_t *b);
/* GrowthBook's typeof-based type name: string number boolean object array null. */
const char *js_type_name(const json_t *v);
/* GrowthBook's paddedVersionString of String(v) (numbers stringified, others "0"). */
void js_padded_version(const json_t *v, js_str_t *out);
/* ASCII case-insensitive equality of two strings. */
bool js_equal_caseless(const char *a, size_t alen, const char *b, size_t blen);

#endif

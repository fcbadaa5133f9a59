/* condition_internal.h -- the compiled condition tree shared by condition.c (compile) and
 * condition_eval.c (evaluate), and the JavaScript value semantics over jansson values
 * (condition_js.c). offers/ only. null stands for both JSON null and a missing value. */
#ifndef PATRON_CONDITION_INTERNAL_H
#define PATRON_CONDITION_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include "base/arena.h"

/* A growable string; short strings stay in buf. */
typedef struct condition_js_str_s {
  char *p;
  size_t len, cap;
  char buf[96];
} condition_js_str_t;

void condition_js_str_init(condition_js_str_t *s);
void condition_js_str_free(condition_js_str_t *s);

/* String(v) as JavaScript: numbers in shortest round-trip form ("0.1", "1e+21"),
 * arrays joined with "," (null elements empty), objects "[object Object]". */
void condition_js_to_string(const json_t *v, condition_js_str_t *out);
/* Number(v): null 0, booleans 0/1, strings parsed (blank -> 0, junk -> NaN), arrays via
 * their string, objects NaN. */
double condition_js_to_number(const json_t *v);
/* JavaScript truthiness. */
bool condition_js_truthy(const json_t *v);
/* a === b (arrays and objects are never equal: JSON-parsed values have distinct identity). */
bool condition_js_strict_equal(const json_t *a, const json_t *b);
/* JSON.stringify(a) === JSON.stringify(b). */
bool condition_js_stringify_equal(const json_t *a, const json_t *b);
/* Abstract relational comparison: -1, 0, 1, or 2 when unordered (NaN involved). */
int condition_js_compare(const json_t *a, const json_t *b);
/* GrowthBook's typeof-based type name: string number boolean object array null. */
const char *condition_js_type_name(const json_t *v);
/* GrowthBook's paddedVersionString of String(v) (numbers stringified, others "0"). */
void condition_js_padded_version(const json_t *v, condition_js_str_t *out);
/* ASCII case-insensitive equality of two strings. */
bool condition_js_equal_caseless(const char *a, size_t alen, const char *b, size_t blen);

/* ---- the compiled tree ---- */
/* Backtracking bound for one regex match: a pathological pattern fails instead of hanging. */
#define CONDITION_REGEX_MATCH_LIMIT 200000u
#define CONDITION_MAX_DEPTH 64

typedef struct cobj_s cobj_t;
typedef struct cval_s cval_t;

typedef enum { E_AND, E_OR, E_NOR, E_NOT, E_PATH } entry_kind_t;

typedef struct entry_s {
  entry_kind_t kind;
  cobj_t **subs; /* $and $or $nor */
  size_t nsubs;
  cobj_t *sub;   /* $not */
  char **parts;  /* path split on '.' */
  size_t nparts;
  size_t name;   /* parts[0] as an index into condition_t.names */
  cval_t *val;
} entry_t;

struct cobj_s {
  entry_t *entries;
  size_t n;
};

typedef enum {
  OP_EQ, OP_NE, OP_LT, OP_LTE, OP_GT, OP_GTE,
  OP_VEQ, OP_VNE, OP_VLT, OP_VLTE, OP_VGT, OP_VGTE,
  OP_EXISTS, OP_IN, OP_NIN, OP_INI, OP_NINI, OP_INGROUP, OP_NOTINGROUP,
  OP_NOT, OP_SIZE, OP_ELEMMATCH, OP_ALL, OP_ALLI, OP_REGEX, OP_TYPE,
  OP_FALSE, /* what the SDK evaluates an unknown operator / invalid operand to */
} op_kind_t;

typedef struct op_s {
  op_kind_t op;
  const json_t *arg;  /* operand (owned by the condition's JSON) */
  cval_t *val;        /* $not, $size, $elemMatch with an operator object */
  cobj_t *obj;        /* $elemMatch with a condition object */
  cval_t **list;      /* $all, $alli */
  size_t nlist;
  pcre2_code *re;     /* $regex, $regexi */
  char *version;      /* $v*: padded expected version */
  bool flag;          /* $exists: expected truthy */
} op_t;

typedef enum { V_STR, V_NUM, V_BOOL, V_NULL, V_DEEP, V_OPS } val_kind_t;

struct cval_s {
  val_kind_t kind;
  const json_t *json;
  double num;
  bool b, caseless;
  op_t *ops;
  size_t nops;
};

typedef struct regex_link_s {
  pcre2_code *re;
  struct regex_link_s *next;
} regex_link_t;

struct condition_s {
  arena_t arena;
  json_t *json;
  cobj_t *root;
  regex_link_t *regexes;
  pcre2_match_context *mctx;
  const char **names; /* distinct first parts of the paths, in first-seen order (arena) */
  _Atomic(pcre2_match_data *) spare_md; /* a match data a finished match left for the next
                                          * one (taken with an atomic exchange, so any
                                          * number of threads may evaluate at once) */
  size_t nnames, names_cap;
};

#endif

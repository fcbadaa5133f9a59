/* condition_internal.h -- the compiled condition tree shared by condition.c (compile) and
 * condition_eval.c (evaluate), and the JavaScript value semantics over jansson values
 * (condition_js.c). offers/ only. null stands for both JSON null and a missing value. */
#ifndef PATRON_CONDITION_INTERNAL_H
#define PATRON_CONDITION_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include "base/arena.h"
#include "offers/condition.h"

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
  char *lit;          /* $regex whose pattern is plain ASCII text (condition_regex_literal):
                       * that text, matched without PCRE2; NULL otherwise */
  size_t litn;
  unsigned lit_anchors; /* CONDITION_LIT_START: pattern began with ^, _END: ended with $ */
  char *version;      /* $v*: padded expected version */
  bool flag;          /* $exists: expected truthy */
} op_t;

#define CONDITION_LIT_START 1u
#define CONDITION_LIT_END 2u
/* Whether the regex pattern p[n] (case-sensitive, compiled with condition.c's options) is
 * ^?TEXT$? where TEXT is one or more ASCII letters, digits and punctuation that is no PCRE2 metacharacter:
 * then it matches a subject exactly when TEXT is at its start (^), at its end ($), both (the
 * whole subject), or anywhere. ASCII bytes are whole characters in UTF-8, valid or not, so
 * PCRE2_MATCH_INVALID_UTF finds them where a byte search does. Sets the text, its length and the anchors. */
bool condition_regex_literal(const char *p, size_t n, const char **text, size_t *textn,
                             unsigned *anchors);
/* Whether the literal matches subject s[n] (as PCRE2 would the pattern). */
bool condition_literal_match(const char *lit, size_t litn, unsigned anchors, const char *s,
                             size_t n);

typedef enum { V_STR, V_NUM, V_BOOL, V_NULL, V_DEEP, V_OPS } val_kind_t;

struct cval_s {
  val_kind_t kind;
  const json_t *json;
  double num;
  bool b, caseless;
  op_t *ops;
  size_t nops;
};

/* ---- the flat program (condition_prog.c) ---- */
/* A scalar constant, typed at compile (CONDITION_VALUE_*; CONDITION_VALUE_JSON: an array or
 * object, equal to no attribute value); snum: ToNumber of a string constant. */
typedef struct pconst_s {
  unsigned char type;
  bool b;
  size_t n;
  int64_t i;
  double d, snum;
  const char *s;
} pconst_t;

typedef enum {
  /* on the attributes: children are the nodes [this + 1, end) */
  P_ALL, P_ANY, P_NONE, P_NOT,
  P_ATTR,          /* names[name], then parts[0..nparts) walked; one child on its value */
  /* on a value */
  P_VALL,          /* every child (an operator object) */
  P_VNOT,          /* $not: the child is false */
  P_EQ, P_NE,      /* === k */
  P_LT, P_LTE, P_GT, P_GTE, /* relational with k, a number or a string */
  P_LOOSE_STR, P_LOOSE_NUM, P_LOOSE_BOOL, P_IS_NULL, /* a plain value */
  P_EXISTS,        /* flag: expected present */
  P_IN, P_NIN,     /* membership in list[0..nlist); caseless: $ini/$nini */
  P_ELEMMATCH,     /* some truthy element passes the child */
  P_ALL_OF,        /* $all: each child passes some element */
  P_REGEX,         /* op's regex (literal or PCRE2) on String(value) */
  P_FALSE,
  P_TREE_VAL, P_TREE_OP, /* the tree's code (cv / op) on the value as JSON */
} pcode_t;

typedef struct pnode_s {
  unsigned char code;
  bool flag;             /* P_EXISTS: expected; P_IN/P_NIN: caseless; P_LOOSE_STR: caseless */
  uint32_t end;          /* the node after this one's subtree */
  size_t name, nparts;   /* P_ATTR */
  char *const *parts;    /* P_ATTR: the path after the name */
  pconst_t k;            /* P_EQ .. P_LOOSE_BOOL */
  const pconst_t *list;  /* P_IN, P_NIN */
  size_t nlist;
  const cval_t *cv;      /* P_TREE_VAL */
  const op_t *op;        /* P_TREE_OP, P_REGEX, relational ops (their JSON operand) */
} pnode_t;

/* Builds c->prog from c->root (0, or -1: out of memory). */
int condition_prog_build(condition_t *c);
/* The tree's evaluation of a value / an operator (no saved groups), for the program's
 * untyped parts; the regex match of condition_eval.c on a subject. */
bool condition_tree_val(const condition_t *c, const cval_t *cv, const json_t *v);
bool condition_tree_op(const condition_t *c, const op_t *op, const json_t *v);
bool condition_regex_subject(const condition_t *c, const op_t *op, const char *s, size_t n);
const json_t *condition_get_path(const json_t *obj, char *const *parts, size_t n);
/* StringToNumber of JavaScript (condition_js.c). */
double condition_js_string_to_number(const char *s, size_t len);

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
  pnode_t *prog;      /* the flat program (arena) */
  size_t nprog;
};

#endif

/* condition_prog.c -- a compiled condition's flat program: the tree of condition.c laid out
 * once, in pre-order, as an array of nodes (each knows where its subtree ends), with the
 * constants typed at compile (numbers as int64/double, a string constant's ToNumber too),
 * evaluated on typed attribute values (condition_value_t) instead of jansson values.
 * Semantics are the tree's (condition_eval.c, the GrowthBook JS SDK's), case by case: null
 * and missing are one; === compares two integers as integers, other numbers as doubles;
 * relational operators compare two strings by UTF-16 code units and anything else as
 * numbers; String() and Number() as condition_js.c. What is not typed here runs the tree's
 * code on the value as JSON (P_TREE_VAL, P_TREE_OP: a scalar is made a temporary JSON value).
 * Invariants: the program lives in the condition's arena and is never modified; evaluation
 * allocates only for those untyped parts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "offers/condition.h"
#include "offers/condition_internal.h"

/* ---- build ---- */

typedef struct builder_s {
  condition_t *c;
  pnode_t *v;
  size_t n, cap;
  bool oom;
  pnode_t scratch; /* what a node is written to when it could not be added */
} builder_t;

#define NO_NODE ((size_t)-1)

/* Appends a node; NO_NODE when out of memory (the build then fails). */
static size_t add(builder_t *b, unsigned char code) {
  if (b->n == b->cap) {
    size_t cap = b->cap ? 2 * b->cap : 16;
    pnode_t *g = realloc(b->v, cap * sizeof *g);
    if (!g) {
      b->oom = true;
      return NO_NODE;
    }
    b->v = g;
    b->cap = cap;
  }
  memset(&b->v[b->n], 0, sizeof b->v[b->n]);
  b->v[b->n].code = code;
  return b->n++;
}

static pnode_t *at(builder_t *b, size_t i) { return i == NO_NODE ? &b->scratch : &b->v[i]; }

static void close_node(builder_t *b, size_t i) { at(b, i)->end = (uint32_t)b->n; }

/* A scalar constant (anything else: CONDITION_VALUE_JSON, never equal to a value). */
static void to_const(const json_t *j, pconst_t *k) {
  condition_value_t v;
  condition_value_from_json(j, &v);
  memset(k, 0, sizeof *k);
  k->type = v.type;
  switch (v.type) {
  case CONDITION_VALUE_BOOL: k->b = v.b; break;
  case CONDITION_VALUE_INT: k->i = v.i, k->d = (double)v.i; break;
  case CONDITION_VALUE_REAL: k->d = v.d; break;
  case CONDITION_VALUE_STR:
    k->s = v.s, k->n = v.n;
    k->snum = condition_js_string_to_number(v.s, v.n);
    break;
  default: break;
  }
}

static bool is_scalar(const json_t *j) {
  return json_is_string(j) || json_is_number(j) || json_is_boolean(j) || json_is_null(j);
}

static void build_val(builder_t *b, const cval_t *cv);

static void build_op(builder_t *b, const op_t *op) {
  size_t i;
  switch (op->op) {
  case OP_EQ:
  case OP_NE:
    if (!is_scalar(op->arg)) break;
    i = add(b, op->op == OP_EQ ? P_EQ : P_NE);
    to_const(op->arg, &at(b, i)->k);
    return close_node(b, i);
  case OP_LT:
  case OP_LTE:
  case OP_GT:
  case OP_GTE:
    if (!json_is_string(op->arg) && !json_is_number(op->arg)) break;
    i = add(b, op->op == OP_LT ? P_LT : op->op == OP_LTE ? P_LTE : op->op == OP_GT ? P_GT : P_GTE);
    to_const(op->arg, &at(b, i)->k);
    at(b, i)->op = op;
    return close_node(b, i);
  case OP_EXISTS:
    i = add(b, P_EXISTS);
    at(b, i)->flag = op->flag;
    return close_node(b, i);
  case OP_IN:
  case OP_NIN:
  case OP_INI:
  case OP_NINI: {
    i = add(b, op->op == OP_IN || op->op == OP_INI ? P_IN : P_NIN);
    size_t n = json_array_size(op->arg); /* an array (compile made anything else OP_FALSE) */
    pconst_t *list = arena_alloc(&b->c->arena, (n ? n : 1) * sizeof *list);
    if (!list) b->oom = true;
    for (size_t k = 0; list && k < n; k++) to_const(json_array_get(op->arg, k), &list[k]);
    at(b, i)->list = list;
    at(b, i)->nlist = n;
    at(b, i)->flag = op->op == OP_INI || op->op == OP_NINI;
    return close_node(b, i);
  }
  case OP_NOT:
    i = add(b, P_VNOT);
    build_val(b, op->val);
    return close_node(b, i);
  case OP_ELEMMATCH:
    if (!op->val) break; /* a condition object on the elements: the tree's */
    i = add(b, P_ELEMMATCH);
    build_val(b, op->val);
    return close_node(b, i);
  case OP_ALL:
  case OP_ALLI:
    i = add(b, P_ALL_OF);
    for (size_t k = 0; k < op->nlist; k++) build_val(b, op->list[k]);
    return close_node(b, i);
  case OP_REGEX:
    i = add(b, P_REGEX);
    at(b, i)->op = op;
    return close_node(b, i);
  case OP_FALSE: return close_node(b, add(b, P_FALSE));
  default: break;
  }
  i = add(b, P_TREE_OP);
  at(b, i)->op = op;
  close_node(b, i);
}

static void build_val(builder_t *b, const cval_t *cv) {
  size_t i;
  switch (cv->kind) {
  case V_STR:
    i = add(b, P_LOOSE_STR);
    to_const(cv->json, &at(b, i)->k);
    at(b, i)->flag = cv->caseless;
    at(b, i)->cv = cv;
    return close_node(b, i);
  case V_NUM:
    i = add(b, P_LOOSE_NUM);
    at(b, i)->k.d = cv->num;
    return close_node(b, i);
  case V_BOOL:
    i = add(b, P_LOOSE_BOOL);
    at(b, i)->k.b = cv->b;
    return close_node(b, i);
  case V_NULL: return close_node(b, add(b, P_IS_NULL));
  case V_DEEP:
    i = add(b, P_TREE_VAL);
    at(b, i)->cv = cv;
    return close_node(b, i);
  case V_OPS:
    if (cv->nops == 1) return build_op(b, &cv->ops[0]);
    i = add(b, P_VALL);
    for (size_t k = 0; k < cv->nops; k++) build_op(b, &cv->ops[k]);
    return close_node(b, i);
  }
}

static void build_obj(builder_t *b, const cobj_t *o);

static void build_entry(builder_t *b, const entry_t *en) {
  size_t i;
  switch (en->kind) {
  case E_AND:
  case E_OR:
  case E_NOR:
    i = add(b, en->kind == E_AND ? P_ALL : en->kind == E_OR ? P_ANY : P_NONE);
    for (size_t s = 0; s < en->nsubs; s++) build_obj(b, en->subs[s]);
    return close_node(b, i);
  case E_NOT:
    i = add(b, P_NOT);
    build_obj(b, en->sub);
    return close_node(b, i);
  case E_PATH:
    i = add(b, P_ATTR);
    at(b, i)->name = en->name;
    at(b, i)->parts = en->parts + 1;
    at(b, i)->nparts = en->nparts - 1;
    build_val(b, en->val);
    return close_node(b, i);
  }
}

static void build_obj(builder_t *b, const cobj_t *o) {
  if (o->n == 1) return build_entry(b, &o->entries[0]);
  size_t i = add(b, P_ALL);
  for (size_t k = 0; k < o->n; k++) build_entry(b, &o->entries[k]);
  close_node(b, i);
}

int condition_prog_build(condition_t *c) {
  builder_t b = {.c = c};
  build_obj(&b, c->root);
  if (!b.oom && b.n) c->prog = arena_alloc(&c->arena, b.n * sizeof *c->prog);
  if (c->prog) memcpy(c->prog, b.v, b.n * sizeof *c->prog);
  c->nprog = c->prog ? b.n : 0;
  free(b.v);
  return c->prog ? 0 : -1;
}

/* ---- typed values ---- */

void condition_value_from_json(const json_t *j, condition_value_t *out) {
  out->n = 0;
  out->i = 0;
  out->s = NULL;
  switch (j ? json_typeof(j) : JSON_NULL) {
  case JSON_NULL: out->type = CONDITION_VALUE_NULL; return;
  case JSON_TRUE:
  case JSON_FALSE: out->type = CONDITION_VALUE_BOOL, out->b = json_is_true(j); return;
  case JSON_INTEGER: out->type = CONDITION_VALUE_INT, out->i = json_integer_value(j); return;
  case JSON_REAL: out->type = CONDITION_VALUE_REAL, out->d = json_real_value(j); return;
  case JSON_STRING:
    out->type = CONDITION_VALUE_STR;
    out->s = json_string_value(j);
    out->n = json_string_length(j);
    return;
  case JSON_ARRAY:
  case JSON_OBJECT: out->type = CONDITION_VALUE_JSON, out->json = j; return;
  }
}

/* v as JSON: borrowed (an array or object), or a new value in *tmp (NULL: null). */
static const json_t *as_json(const condition_value_t *v, json_t **tmp) {
  *tmp = NULL;
  switch (v->type) {
  case CONDITION_VALUE_STRS:
    *tmp = json_array();
    for (size_t i = 0; *tmp && i < v->n; i++)
      json_array_append_new(*tmp, json_stringn_nocheck(v->strs[i].s, v->strs[i].n));
    return *tmp;
  case CONDITION_VALUE_BOOL: return *tmp = json_boolean(v->b);
  case CONDITION_VALUE_INT: return *tmp = json_integer(v->i);
  case CONDITION_VALUE_REAL: return *tmp = json_real(v->d);
  case CONDITION_VALUE_STR: return *tmp = json_stringn_nocheck(v->s, v->n);
  case CONDITION_VALUE_JSON: return v->json;
  default: return NULL;
  }
}

static bool tree_val(const condition_t *c, const cval_t *cv, const condition_value_t *v) {
  json_t *tmp;
  const json_t *j = as_json(v, &tmp);
  bool ok = condition_tree_val(c, cv, j);
  json_decref(tmp);
  return ok;
}

static bool tree_op(const condition_t *c, const op_t *op, const condition_value_t *v) {
  json_t *tmp;
  const json_t *j = as_json(v, &tmp);
  bool ok = condition_tree_op(c, op, j);
  json_decref(tmp);
  return ok;
}

static bool truthy(const condition_value_t *v) {
  switch (v->type) {
  case CONDITION_VALUE_NULL: return false;
  case CONDITION_VALUE_BOOL: return v->b;
  case CONDITION_VALUE_INT: return v->i != 0;
  case CONDITION_VALUE_REAL: return v->d != 0 && !isnan(v->d);
  case CONDITION_VALUE_STR: return v->n > 0;
  default: return true; /* arrays and objects */
  }
}

/* Number(v). */
static double to_number(const condition_value_t *v) {
  switch (v->type) {
  case CONDITION_VALUE_NULL: return 0;
  case CONDITION_VALUE_BOOL: return v->b;
  case CONDITION_VALUE_INT: return (double)v->i;
  case CONDITION_VALUE_REAL: return v->d;
  case CONDITION_VALUE_STR: return condition_js_string_to_number(v->s, v->n);
  case CONDITION_VALUE_JSON: return condition_js_to_number(v->json);
  default: {
    json_t *tmp;
    double d = condition_js_to_number(as_json(v, &tmp));
    json_decref(tmp);
    return d;
  }
  }
}

/* Arrays: a JSON array or a list of strings, element by element. */
static bool is_list(const condition_value_t *v) {
  return v->type == CONDITION_VALUE_STRS ||
         (v->type == CONDITION_VALUE_JSON && json_is_array(v->json));
}

static size_t list_size(const condition_value_t *v) {
  return v->type == CONDITION_VALUE_STRS ? v->n : json_array_size(v->json);
}

static void list_at(const condition_value_t *v, size_t k, condition_value_t *out) {
  if (v->type == CONDITION_VALUE_JSON) return condition_value_from_json(json_array_get(v->json, k), out);
  out->type = CONDITION_VALUE_STR;
  out->s = v->strs[k].s;
  out->n = v->strs[k].n;
}

/* v === k (k scalar; a JSON constant is never equal). */
static bool strict_equal(const condition_value_t *v, const pconst_t *k) {
  switch (k->type) {
  case CONDITION_VALUE_NULL: return v->type == CONDITION_VALUE_NULL;
  case CONDITION_VALUE_BOOL: return v->type == CONDITION_VALUE_BOOL && v->b == k->b;
  case CONDITION_VALUE_INT:
    if (v->type == CONDITION_VALUE_INT) return v->i == k->i;
    return v->type == CONDITION_VALUE_REAL && v->d == k->d;
  case CONDITION_VALUE_REAL:
    if (v->type == CONDITION_VALUE_INT) return (double)v->i == k->d;
    return v->type == CONDITION_VALUE_REAL && v->d == k->d;
  case CONDITION_VALUE_STR:
    return v->type == CONDITION_VALUE_STR && v->n == k->n && !memcmp(v->s, k->s, k->n);
  default: return false;
  }
}

static bool includes(const pconst_t *list, size_t n, const condition_value_t *v, bool caseless) {
  for (size_t i = 0; i < n; i++) {
    if (caseless && v->type == CONDITION_VALUE_STR && list[i].type == CONDITION_VALUE_STR) {
      if (condition_js_equal_caseless(list[i].s, list[i].n, v->s, v->n)) return true;
    } else if (strict_equal(v, &list[i])) {
      return true;
    }
  }
  return false;
}

/* isIn: intersection when v is an array, membership otherwise. */
static bool is_in(const pnode_t *p, const condition_value_t *v) {
  if (is_list(v)) {
    condition_value_t el;
    for (size_t i = 0, n = list_size(v); i < n; i++) {
      list_at(v, i, &el);
      if (includes(p->list, p->nlist, &el, p->flag)) return true;
    }
    return false;
  }
  return includes(p->list, p->nlist, v, p->flag);
}

/* condition_js_compare(v, k): -1, 0, 1, or 2 (unordered). */
static int compare_any(const pnode_t *p, const condition_value_t *v) {
  double x, y;
  if (p->k.type == CONDITION_VALUE_STR) {
    if (v->type == CONDITION_VALUE_STR) {
      int c = utf16_compare(v->s, v->n, p->k.s, p->k.n);
      return c < 0 ? -1 : c > 0;
    }
    if (v->type == CONDITION_VALUE_JSON) return condition_js_compare(v->json, p->op->arg);
    if (v->type == CONDITION_VALUE_STRS) {
      json_t *tmp;
      int r = condition_js_compare(as_json(v, &tmp), p->op->arg);
      json_decref(tmp);
      return r;
    }
    y = p->k.snum;
  } else {
    y = p->k.d;
  }
  x = to_number(v);
  if (isnan(x) || isnan(y)) return 2;
  return x < y ? -1 : x > y;
}

/* compare_any, the common case (an integer attribute against a number) in place: the same
 * doubles compared (ToNumber of an integer is its double; k.d is a number constant's). */
static inline int compare(const pnode_t *p, const condition_value_t *v) {
  if (v->type == CONDITION_VALUE_INT && p->k.type != CONDITION_VALUE_STR) {
    double x = (double)v->i, y = p->k.d;
    if (isnan(y)) return 2;
    return x < y ? -1 : x > y;
  }
  return compare_any(p, v);
}

static bool run_val(const condition_t *c, size_t i, const condition_value_t *v);

/* String(v) === k (caseless: ASCII case ignored). */
static bool loose_str(const condition_t *c, const pnode_t *p, const condition_value_t *v) {
  const char *s;
  size_t n;
  switch (v->type) {
  case CONDITION_VALUE_STR: s = v->s, n = v->n; break;
  case CONDITION_VALUE_NULL: s = "null", n = 4; break;
  case CONDITION_VALUE_BOOL: s = v->b ? "true" : "false", n = v->b ? 4 : 5; break;
  default: return tree_val(c, p->cv, v); /* numbers, arrays, objects: condition_js_to_string */
  }
  return p->flag ? condition_js_equal_caseless(s, n, p->k.s, p->k.n)
                 : n == p->k.n && !memcmp(s, p->k.s, n);
}

static bool regex(const condition_t *c, const op_t *op, const condition_value_t *v) {
  if (v->type == CONDITION_VALUE_STR) return condition_regex_subject(c, op, v->s, v->n);
  condition_js_str_t s;
  condition_js_str_init(&s);
  json_t *tmp;
  condition_js_to_string(as_json(v, &tmp), &s);
  json_decref(tmp);
  bool ok = condition_regex_subject(c, op, s.p, s.len);
  condition_js_str_free(&s);
  return ok;
}

static bool elem_match(const condition_t *c, size_t i, const condition_value_t *v) {
  if (!is_list(v)) return false;
  condition_value_t el;
  for (size_t k = 0, n = list_size(v); k < n; k++) {
    list_at(v, k, &el);
    if (truthy(&el) && run_val(c, i + 1, &el)) return true; /* the SDK skips falsy ones */
  }
  return false;
}

static bool all_of(const condition_t *c, size_t i, const condition_value_t *v) {
  if (!is_list(v)) return false;
  size_t n = list_size(v);
  condition_value_t el;
  for (size_t k = i + 1; k < c->prog[i].end; k = c->prog[k].end) {
    bool passed = false;
    for (size_t j = 0; j < n && !passed; j++) {
      list_at(v, j, &el);
      passed = run_val(c, k, &el);
    }
    if (!passed) return false;
  }
  return true;
}

static bool run_val(const condition_t *c, size_t i, const condition_value_t *v) {
  const pnode_t *p = &c->prog[i];
  int r;
  switch ((pcode_t)p->code) {
  case P_VALL:
    for (size_t k = i + 1; k < p->end; k = c->prog[k].end)
      if (!run_val(c, k, v)) return false;
    return true;
  case P_VNOT: return !run_val(c, i + 1, v);
  case P_EQ: return strict_equal(v, &p->k);
  case P_NE: return !strict_equal(v, &p->k);
  case P_LT: return compare(p, v) == -1;
  case P_LTE: return (r = compare(p, v)) == -1 || r == 0;
  case P_GT: return compare(p, v) == 1;
  case P_GTE: return (r = compare(p, v)) == 1 || r == 0;
  case P_LOOSE_STR: return loose_str(c, p, v);
  case P_LOOSE_NUM: return to_number(v) == p->k.d;
  case P_LOOSE_BOOL: return v->type != CONDITION_VALUE_NULL && truthy(v) == p->k.b;
  case P_IS_NULL: return v->type == CONDITION_VALUE_NULL;
  case P_EXISTS: return (v->type != CONDITION_VALUE_NULL) == p->flag;
  case P_IN: return is_in(p, v);
  case P_NIN: return !is_in(p, v);
  case P_ELEMMATCH: return elem_match(c, i, v);
  case P_ALL_OF: return all_of(c, i, v);
  case P_REGEX: return regex(c, p->op, v);
  case P_FALSE: return false;
  case P_TREE_VAL: return tree_val(c, p->cv, v);
  case P_TREE_OP: return tree_op(c, p->op, v);
  default: return false; /* object-level nodes are never under a value */
  }
}

typedef struct runctx_s {
  const condition_t *c;
  condition_value_fn get;
  void *ctx;
} runctx_t;

static bool run_obj(const runctx_t *x, size_t i) {
  const condition_t *c = x->c;
  const pnode_t *p = &c->prog[i];
  switch ((pcode_t)p->code) {
  case P_ALL:
    for (size_t k = i + 1; k < p->end; k = c->prog[k].end)
      if (!run_obj(x, k)) return false;
    return true;
  case P_ANY:
  case P_NONE: {
    bool any = i + 1 == p->end; /* an empty $or passes (and an empty $nor fails) */
    for (size_t k = i + 1; k < p->end && !any; k = c->prog[k].end) any = run_obj(x, k);
    return p->code == P_ANY ? any : !any;
  }
  case P_NOT: return !run_obj(x, i + 1);
  case P_ATTR: {
    condition_value_t scratch;
    const condition_value_t *v = x->get(x->ctx, p->name, &scratch);
    if (!p->nparts) return run_val(c, i + 1, v);
    /* only an array or object has members; anything else reads as null */
    json_t *tmp = NULL;
    const json_t *j = v->type == CONDITION_VALUE_JSON   ? v->json
                      : v->type == CONDITION_VALUE_STRS ? as_json(v, &tmp)
                                                        : NULL;
    condition_value_from_json(j ? condition_get_path(j, p->parts, p->nparts) : NULL, &scratch);
    bool ok = run_val(c, i + 1, &scratch);
    json_decref(tmp); /* after: scratch may point into it */
    return ok;
  }
  default: return false;
  }
}

int condition_single_name(const condition_t *c) {
  return c && c->prog->code == P_ATTR && !c->prog->nparts ? (int)c->prog->name : -1;
}

/* run_obj's P_ATTR case for the root of a condition_single_name condition. */
bool condition_eval_value(const condition_t *c, const condition_value_t *v) {
  return run_val(c, 1, v);
}

bool condition_eval_values(const condition_t *c, condition_value_fn get, void *ctx) {
  if (!c) return true;
  int name = condition_single_name(c);
  if (name >= 0) { /* one attribute's test (most rules): run_obj's case */
    condition_value_t scratch;
    return condition_eval_value(c, get(ctx, (size_t)name, &scratch));
  }
  runctx_t x = {c, get, ctx};
  return run_obj(&x, 0);
}

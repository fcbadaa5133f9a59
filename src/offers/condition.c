/* condition.c -- compile a GrowthBook condition (JSON) into a tree once, evaluate it against
 * attributes many times (rules in condition.h). The tree mirrors the SDK's two functions:
 * an "object" node is evalCondition (logical keys and attribute paths), a "value" node is
 * evalConditionValue (plain value = equality, or an operator object).
 * Invariants: all nodes live in the condition's arena; regexes are compiled here and freed
 * with the condition; evaluation never mutates the tree. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "offers/condition.h"

#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/utf8.h"
#include "offers/condition_internal.h"

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
};

/* ---- compile ---- */

typedef struct compiler_s {
  condition_t *c;
  int flags;
  perr_info_t *e;
  char path[256];
  size_t plen;
} compiler_t;

static size_t path_push(compiler_t *k, const char *fmt, const char *s, size_t i) {
  size_t old = k->plen;
  int n = snprintf(k->path + k->plen, sizeof k->path - k->plen, fmt, s, i);
  if (n > 0) k->plen = k->plen + (size_t)n < sizeof k->path ? k->plen + (size_t)n : sizeof k->path - 1;
  return old;
}

static void path_pop(compiler_t *k, size_t old) {
  k->plen = old;
  k->path[old] = 0;
}

/* Strict mode: fail. Compat mode: returns 0 so the caller compiles the SDK's behaviour. */
static int bad(compiler_t *k, const char *msg) {
  if (k->flags & CONDITION_SDK_COMPAT) return 0;
  return perr_set(k->e, PERR_INVALID_PARAMS, k->path, "%s at %s", msg, k->path);
}

static void *alloc(compiler_t *k, size_t n) { return arena_alloc(&k->c->arena, n ? n : 1); }

#define OOM(k) perr_set((k)->e, PERR_INTERNAL, (k)->path, "out of memory")

static int compile_obj(compiler_t *k, const json_t *j, cobj_t **out, int depth);
static int compile_val(compiler_t *k, const json_t *j, cval_t **out, bool caseless, int depth);

static bool is_operator_object(const json_t *j) {
  if (!json_is_object(j) || json_object_size(j) == 0) return false;
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)j, key, v) {
    (void)v;
    if (key[0] != '$') return false;
  }
  return true;
}

static int compile_list(compiler_t *k, const json_t *arr, cobj_t ***subs, size_t *n, int depth) {
  if (!json_is_array(arr)) {
    int rc = bad(k, "expected an array of conditions");
    if (rc) return rc;
    *n = 0; /* SDK: a non-array has no length: an empty $and/$or */
    return 0;
  }
  *n = json_array_size(arr);
  *subs = alloc(k, *n * sizeof **subs);
  if (!*subs) return OOM(k);
  for (size_t i = 0; i < *n; i++) {
    size_t old = path_push(k, "[%.0s%zu]", "", i);
    int rc = compile_obj(k, json_array_get(arr, i), &(*subs)[i], depth + 1);
    path_pop(k, old);
    if (rc) return rc;
  }
  return 0;
}

static int split_path(compiler_t *k, const char *key, entry_t *en) {
  en->nparts = 1;
  for (const char *c = key; *c; c++) en->nparts += *c == '.';
  en->parts = alloc(k, en->nparts * sizeof *en->parts);
  if (!en->parts) return OOM(k);
  const char *start = key;
  for (size_t i = 0; i < en->nparts; i++) {
    const char *dot = strchr(start, '.');
    size_t len = dot ? (size_t)(dot - start) : strlen(start);
    en->parts[i] = arena_strndup(&k->c->arena, start, len);
    if (!en->parts[i]) return OOM(k);
    start += len + 1;
  }
  return 0;
}

static int compile_obj(compiler_t *k, const json_t *j, cobj_t **out, int depth) {
  cobj_t *o = alloc(k, sizeof *o);
  if (!o) return OOM(k);
  *out = o;
  if (depth > CONDITION_MAX_DEPTH)
    return perr_set(k->e, PERR_INVALID_PARAMS, k->path, "condition nested too deeply");
  if (!json_is_object(j)) {
    /* SDK: Object.entries of a non-object is empty, which matches everything */
    return bad(k, "expected a condition object");
  }
  o->entries = alloc(k, json_object_size(j) * sizeof *o->entries);
  if (!o->entries && json_object_size(j)) return OOM(k);
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)j, key, v) {
    entry_t *en = &o->entries[o->n++];
    size_t old = path_push(k, ".%s%.0zu", key, 0);
    int rc = 0;
    if (!strcmp(key, "$and") || !strcmp(key, "$or") || !strcmp(key, "$nor")) {
      en->kind = key[1] == 'a' ? E_AND : key[2] == 'r' ? E_OR : E_NOR;
      rc = compile_list(k, v, &en->subs, &en->nsubs, depth);
    } else if (!strcmp(key, "$not")) {
      en->kind = E_NOT;
      rc = compile_obj(k, v, &en->sub, depth + 1);
    } else {
      en->kind = E_PATH;
      /* a '$' key is an attribute path for the SDK; stored rules accept only $groups so that a
       * misspelt logical operator ("$Or") is an error, not an always-null attribute */
      if (key[0] == '$' && strcmp(key, "$groups")) rc = bad(k, "unknown logical operator");
      if (!rc) rc = split_path(k, key, en);
      if (!rc) rc = compile_val(k, v, &en->val, false, depth + 1);
    }
    path_pop(k, old);
    if (rc) return rc;
  }
  return 0;
}

static int compile_regex(compiler_t *k, op_t *op, const json_t *arg, bool caseless) {
  if (!json_is_string(arg)) {
    int rc = bad(k, "a regular expression must be a string");
    if (rc) return rc;
  }
  js_str_t pat;
  js_str_init(&pat);
  js_to_string(arg, &pat); /* SDK: new RegExp(String(arg)) */
  uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_ALT_BSUX |
                  PCRE2_ALLOW_EMPTY_CLASS | PCRE2_MATCH_UNSET_BACKREF;
  if (caseless) opts |= PCRE2_CASELESS;
  int err;
  PCRE2_SIZE off;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat.p, pat.len, opts, &err, &off, NULL);
  js_str_free(&pat);
  if (!re) {
    if (k->flags & CONDITION_SDK_COMPAT) {
      op->op = OP_FALSE; /* SDK: an invalid regex throws, caught as false */
      return 0;
    }
    PCRE2_UCHAR msg[120];
    pcre2_get_error_message(err, msg, sizeof msg);
    return perr_set(k->e, PERR_INVALID_PARAMS, k->path, "invalid regular expression at %s: %s",
                    k->path, (const char *)msg);
  }
  regex_link_t *l = alloc(k, sizeof *l);
  if (!l) {
    pcre2_code_free(re);
    return OOM(k);
  }
  l->re = re;
  l->next = k->c->regexes;
  k->c->regexes = l;
  op->re = re;
  return 0;
}

static const struct {
  const char *name;
  op_kind_t op;
} OPS[] = {
    {"$eq", OP_EQ},       {"$ne", OP_NE},           {"$lt", OP_LT},
    {"$lte", OP_LTE},     {"$gt", OP_GT},           {"$gte", OP_GTE},
    {"$veq", OP_VEQ},     {"$vne", OP_VNE},         {"$vlt", OP_VLT},
    {"$vlte", OP_VLTE},   {"$vgt", OP_VGT},         {"$vgte", OP_VGTE},
    {"$exists", OP_EXISTS}, {"$in", OP_IN},         {"$nin", OP_NIN},
    {"$ini", OP_INI},     {"$nini", OP_NINI},       {"$inGroup", OP_INGROUP},
    {"$notInGroup", OP_NOTINGROUP}, {"$not", OP_NOT}, {"$size", OP_SIZE},
    {"$elemMatch", OP_ELEMMATCH}, {"$all", OP_ALL}, {"$alli", OP_ALLI},
    {"$regex", OP_REGEX}, {"$regexi", OP_REGEX},    {"$type", OP_TYPE},
};

static bool scalar(const json_t *j) {
  return json_is_string(j) || json_is_number(j) || json_is_boolean(j) || json_is_null(j);
}

static int compile_op(compiler_t *k, const char *name, const json_t *arg, op_t *op, int depth) {
  op->op = OP_FALSE;
  op->arg = arg;
  for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++)
    if (!strcmp(OPS[i].name, name)) op->op = OPS[i].op;
  switch (op->op) {
  case OP_FALSE: return bad(k, "unknown operator");
  case OP_EQ:
  case OP_NE:
    return scalar(arg) ? 0 : bad(k, "$eq/$ne compare with a string, number, boolean or null");
  case OP_LT:
  case OP_LTE:
  case OP_GT:
  case OP_GTE:
    return json_is_string(arg) || json_is_number(arg) ? 0 : bad(k, "expected a number or string");
  case OP_VEQ:
  case OP_VNE:
  case OP_VLT:
  case OP_VLTE:
  case OP_VGT:
  case OP_VGTE: {
    if (!json_is_string(arg) && !json_is_number(arg)) {
      int rc = bad(k, "expected a version string");
      if (rc) return rc;
    }
    js_str_t v;
    js_str_init(&v);
    js_padded_version(arg, &v);
    op->version = arena_strndup(&k->c->arena, v.p, v.len);
    js_str_free(&v);
    return op->version ? 0 : OOM(k);
  }
  case OP_EXISTS:
    op->flag = js_truthy(arg);
    return json_is_boolean(arg) ? 0 : bad(k, "$exists takes true or false");
  case OP_IN:
  case OP_NIN:
  case OP_INI:
  case OP_NINI:
    if (json_is_array(arg)) return 0;
    op->op = OP_FALSE; /* SDK: a non-array operand is false for all four */
    return bad(k, "expected an array");
  case OP_INGROUP:
  case OP_NOTINGROUP:
    return json_is_string(arg) ? 0 : bad(k, "expected a saved group id (string)");
  case OP_NOT:
  case OP_SIZE: return compile_val(k, arg, &op->val, false, depth + 1);
  case OP_ELEMMATCH:
    if (!json_is_object(arg)) {
      op->op = OP_FALSE;
      return bad(k, "$elemMatch takes a condition object");
    }
    if (is_operator_object(arg)) return compile_val(k, arg, &op->val, false, depth + 1);
    return compile_obj(k, arg, &op->obj, depth + 1);
  case OP_ALL:
  case OP_ALLI:
    if (!json_is_array(arg)) {
      op->nlist = 0; /* SDK: loops over expected.length, none: true for any array */
      return bad(k, "expected an array");
    }
    op->nlist = json_array_size(arg);
    op->list = alloc(k, op->nlist * sizeof *op->list);
    if (!op->list) return OOM(k);
    for (size_t i = 0; i < op->nlist; i++) {
      size_t old = path_push(k, "[%.0s%zu]", "", i);
      int rc = compile_val(k, json_array_get(arg, i), &op->list[i], op->op == OP_ALLI, depth + 1);
      path_pop(k, old);
      if (rc) return rc;
    }
    return 0;
  case OP_REGEX: return compile_regex(k, op, arg, !strcmp(name, "$regexi"));
  case OP_TYPE: {
    static const char *const types[] = {"string", "number", "boolean", "object",
                                        "array",  "null",   "undefined"};
    for (size_t i = 0; json_is_string(arg) && i < sizeof types / sizeof types[0]; i++)
      if (!strcmp(json_string_value(arg), types[i])) return 0;
    return bad(k, "$type takes string, number, boolean, object, array or null");
  }
  }
  return 0;
}

static int compile_val(compiler_t *k, const json_t *j, cval_t **out, bool caseless, int depth) {
  cval_t *v = alloc(k, sizeof *v);
  if (!v) return OOM(k);
  *out = v;
  v->json = j;
  v->caseless = caseless;
  if (depth > CONDITION_MAX_DEPTH)
    return perr_set(k->e, PERR_INVALID_PARAMS, k->path, "condition nested too deeply");
  switch (json_typeof(j)) {
  case JSON_STRING: v->kind = V_STR; return 0;
  case JSON_INTEGER:
  case JSON_REAL: v->kind = V_NUM, v->num = json_number_value(j); return 0;
  case JSON_TRUE:
  case JSON_FALSE: v->kind = V_BOOL, v->b = json_is_true(j); return 0;
  case JSON_NULL: v->kind = V_NULL; return 0;
  case JSON_ARRAY: v->kind = V_DEEP; return 0;
  case JSON_OBJECT: break;
  }
  if (!is_operator_object(j)) {
    v->kind = V_DEEP;
    const char *key;
    json_t *x;
    json_object_foreach((json_t *)j, key, x) {
      (void)x;
      if (key[0] == '$') return bad(k, "an object mixes operators and fields");
    }
    return 0;
  }
  v->kind = V_OPS;
  v->ops = alloc(k, json_object_size(j) * sizeof *v->ops);
  if (!v->ops) return OOM(k);
  const char *key;
  json_t *arg;
  json_object_foreach((json_t *)j, key, arg) {
    size_t old = path_push(k, ".%s%.0zu", key, 0);
    int rc = compile_op(k, key, arg, &v->ops[v->nops++], depth);
    path_pop(k, old);
    if (rc) return rc;
  }
  return 0;
}

int condition_compile_ex(json_t *cond, int flags, condition_t **out, perr_info_t *e) {
  *out = NULL;
  if (!json_is_object(cond))
    return perr_set(e, PERR_INVALID_PARAMS, "rule", "a condition must be a JSON object");
  condition_t *c = calloc(1, sizeof *c);
  if (!c) return perr_set(e, PERR_INTERNAL, "rule", "out of memory");
  arena_init(&c->arena, 0);
  c->json = json_incref(cond);
  compiler_t k = {.c = c, .flags = flags, .e = e};
  path_push(&k, "%s%.0zu", "rule", 0);
  int rc = compile_obj(&k, cond, &c->root, 0);
  if (!rc) {
    c->mctx = pcre2_match_context_create(NULL);
    if (!c->mctx) rc = perr_set(e, PERR_INTERNAL, "rule", "out of memory");
    else pcre2_set_match_limit(c->mctx, CONDITION_REGEX_MATCH_LIMIT);
  }
  if (rc) {
    condition_free(c);
    return rc;
  }
  *out = c;
  return 0;
}

int condition_compile(json_t *cond, condition_t **out, perr_info_t *e) {
  return condition_compile_ex(cond, CONDITION_STRICT, out, e);
}

void condition_free(condition_t *c) {
  if (!c) return;
  for (regex_link_t *l = c->regexes; l; l = l->next) pcre2_code_free(l->re);
  pcre2_match_context_free(c->mctx);
  json_decref(c->json);
  arena_free(&c->arena);
  free(c);
}

/* ---- evaluate ---- */

typedef struct evalctx_s {
  const condition_t *c;
  const json_t *groups;
} evalctx_t;

static bool eval_obj(const evalctx_t *x, const cobj_t *o, const json_t *obj);
static bool eval_val(const evalctx_t *x, const cval_t *v, const json_t *value);

/* getPath: walk objects (and arrays by index); anything missing reads as null (NULL). */
static const json_t *get_path(const json_t *obj, char *const *parts, size_t n) {
  const json_t *cur = obj;
  for (size_t i = 0; i < n; i++) {
    if (json_is_object(cur)) {
      cur = json_object_get(cur, parts[i]);
    } else if (json_is_array(cur)) {
      char *end;
      unsigned long idx = strtoul(parts[i], &end, 10);
      bool canonical = parts[i][0] && !*end && (parts[i][0] != '0' || !parts[i][1]) &&
                       parts[i][0] != '-' && parts[i][0] != '+';
      cur = canonical ? json_array_get(cur, idx) : NULL;
    } else {
      return NULL;
    }
    if (!cur) return NULL;
  }
  return cur;
}

static bool eval_obj(const evalctx_t *x, const cobj_t *o, const json_t *obj) {
  for (size_t i = 0; i < o->n; i++) {
    const entry_t *en = &o->entries[i];
    bool ok = true;
    switch (en->kind) {
    case E_AND:
      for (size_t s = 0; s < en->nsubs && ok; s++) ok = eval_obj(x, en->subs[s], obj);
      break;
    case E_OR:
    case E_NOR: {
      bool any = en->nsubs == 0; /* an empty $or passes */
      for (size_t s = 0; s < en->nsubs && !any; s++) any = eval_obj(x, en->subs[s], obj);
      ok = en->kind == E_OR ? any : !any;
      break;
    }
    case E_NOT: ok = !eval_obj(x, en->sub, obj); break;
    case E_PATH: ok = eval_val(x, en->val, get_path(obj, en->parts, en->nparts)); break;
    }
    if (!ok) return false;
  }
  return true;
}

static bool same_value(const json_t *a, const json_t *b, bool caseless) {
  if (caseless && json_is_string(a) && json_is_string(b))
    return js_equal_caseless(json_string_value(a), json_string_length(a), json_string_value(b),
                             json_string_length(b));
  return js_strict_equal(a, b);
}

static bool includes(const json_t *arr, const json_t *v, bool caseless) {
  for (size_t i = 0; i < json_array_size(arr); i++)
    if (same_value(json_array_get(arr, i), v, caseless)) return true;
  return false;
}

/* isIn: intersection when the attribute is an array, membership otherwise. */
static bool is_in(const json_t *actual, const json_t *expected, bool caseless) {
  if (!json_is_array(expected)) return false;
  if (json_is_array(actual)) {
    for (size_t i = 0; i < json_array_size(actual); i++)
      if (includes(expected, json_array_get(actual, i), caseless)) return true;
    return false;
  }
  return includes(expected, actual ? actual : json_null(), caseless);
}

static bool regex_test(const evalctx_t *x, const pcre2_code *re, const json_t *value) {
  js_str_t s;
  js_str_init(&s);
  js_to_string(value, &s);
  pcre2_match_data *md = pcre2_match_data_create(1, NULL);
  int rc = md ? pcre2_match(re, (PCRE2_SPTR)s.p, s.len, 0, 0, md, x->c->mctx) : -1;
  pcre2_match_data_free(md);
  js_str_free(&s);
  return rc >= 0;
}

static int version_cmp(const json_t *value, const char *expected) {
  js_str_t v;
  js_str_init(&v);
  js_padded_version(value, &v);
  int c = utf16_compare(v.p, v.len, expected, strlen(expected));
  js_str_free(&v);
  return c;
}

static bool eval_op(const evalctx_t *x, const op_t *op, const json_t *v) {
  switch (op->op) {
  case OP_EQ: return js_strict_equal(v, op->arg);
  case OP_NE: return !js_strict_equal(v, op->arg);
  case OP_LT: return js_compare(v, op->arg) == -1;
  case OP_LTE: {
    int c = js_compare(v, op->arg);
    return c == -1 || c == 0;
  }
  case OP_GT: return js_compare(v, op->arg) == 1;
  case OP_GTE: {
    int c = js_compare(v, op->arg);
    return c == 1 || c == 0;
  }
  case OP_VEQ: return version_cmp(v, op->version) == 0;
  case OP_VNE: return version_cmp(v, op->version) != 0;
  case OP_VLT: return version_cmp(v, op->version) < 0;
  case OP_VLTE: return version_cmp(v, op->version) <= 0;
  case OP_VGT: return version_cmp(v, op->version) > 0;
  case OP_VGTE: return version_cmp(v, op->version) >= 0;
  case OP_EXISTS: return op->flag ? !json_is_null(v) && v : !v || json_is_null(v);
  case OP_IN: return is_in(v, op->arg, false);
  case OP_NIN: return !is_in(v, op->arg, false);
  case OP_INI: return is_in(v, op->arg, true);
  case OP_NINI: return !is_in(v, op->arg, true);
  case OP_INGROUP:
  case OP_NOTINGROUP: {
    const json_t *g = json_object_get(x->groups, json_string_value(op->arg));
    bool in = is_in(v, g, false); /* unknown group: [] */
    return op->op == OP_INGROUP ? in : !in;
  }
  case OP_NOT: return !eval_val(x, op->val, v);
  case OP_SIZE: {
    if (!json_is_array(v)) return false;
    json_t *n = json_integer((json_int_t)json_array_size(v));
    bool ok = n && eval_val(x, op->val, n);
    json_decref(n);
    return ok;
  }
  case OP_ELEMMATCH:
    if (!json_is_array(v)) return false;
    for (size_t i = 0; i < json_array_size(v); i++) {
      const json_t *el = json_array_get(v, i);
      if (!js_truthy(el)) continue; /* the SDK skips falsy elements */
      if (op->val ? eval_val(x, op->val, el) : eval_obj(x, op->obj, el)) return true;
    }
    return false;
  case OP_ALL:
  case OP_ALLI:
    if (!json_is_array(v)) return false;
    for (size_t i = 0; i < op->nlist; i++) {
      bool passed = false;
      for (size_t j = 0; j < json_array_size(v) && !passed; j++)
        passed = eval_val(x, op->list[i], json_array_get(v, j));
      if (!passed) return false;
    }
    return true;
  case OP_REGEX: return regex_test(x, op->re, v);
  case OP_TYPE: return !strcmp(js_type_name(v), json_string_value(op->arg) ? json_string_value(op->arg) : "");
  case OP_FALSE: return false;
  }
  return false;
}

static bool eval_val(const evalctx_t *x, const cval_t *cv, const json_t *v) {
  switch (cv->kind) {
  case V_STR: {
    js_str_t s;
    js_str_init(&s);
    js_to_string(v, &s);
    const char *want = json_string_value(cv->json);
    size_t wlen = json_string_length(cv->json);
    bool eq = cv->caseless ? js_equal_caseless(s.p, s.len, want, wlen)
                           : s.len == wlen && memcmp(s.p, want, wlen) == 0;
    js_str_free(&s);
    return eq;
  }
  case V_NUM: return js_to_number(v) == cv->num;
  case V_BOOL: return v && !json_is_null(v) && js_truthy(v) == cv->b;
  case V_NULL: return !v || json_is_null(v);
  case V_DEEP: return js_stringify_equal(v, cv->json);
  case V_OPS:
    for (size_t i = 0; i < cv->nops; i++)
      if (!eval_op(x, &cv->ops[i], v)) return false;
    return true;
  }
  return false;
}

bool condition_eval_groups(const condition_t *c, const json_t *attrs, const json_t *groups) {
  if (!c) return true;
  evalctx_t x = {.c = c, .groups = groups};
  return eval_obj(&x, c->root, attrs); /* NULL attrs: every path reads as null */
}

bool condition_eval(const condition_t *c, const json_t *attrs) {
  return condition_eval_groups(c, attrs, NULL);
}

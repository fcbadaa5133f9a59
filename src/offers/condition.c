/* condition.c -- compile a GrowthBook condition (JSON) into a tree once (rules in
 * condition.h; the tree is in condition_internal.h, evaluation in condition_eval.c). The tree
 * mirrors the SDK's two functions: an "object" node is evalCondition (logical keys and
 * attribute paths), a "value" node is evalConditionValue (plain value = equality, or an
 * operator object). Strict mode refuses what the SDK would silently ignore, naming the path.
 * The tree is then laid out as a flat program (condition_prog.c).
 * Invariants: all nodes live in the condition's arena; regexes are compiled here and freed
 * with the condition; a compiled tree is never modified. */
#include "offers/condition.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "offers/condition_internal.h"

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
  if (n > 0) /* snprintf truncated at the buffer's end: keep what fits */
    k->plen = k->plen + (size_t)n < sizeof k->path ? k->plen + (size_t)n : sizeof k->path - 1;
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

/* The index of name in c->names, adding it when new. */
static int name_index(compiler_t *k, const char *name, size_t *out) {
  condition_t *c = k->c;
  for (size_t i = 0; i < c->nnames; i++)
    if (!strcmp(c->names[i], name)) return *out = i, 0;
  if (c->nnames == c->names_cap) {
    size_t cap = c->names_cap ? 2 * c->names_cap : 8;
    const char **grown = alloc(k, cap * sizeof *grown);
    if (!grown) return OOM(k);
    if (c->nnames) memcpy(grown, c->names, c->nnames * sizeof *grown);
    c->names = grown;
    c->names_cap = cap;
  }
  c->names[c->nnames] = name;
  *out = c->nnames++;
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
  return name_index(k, en->parts[0], &en->name);
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

bool condition_regex_literal(const char *p, size_t n, const char **text, size_t *textn,
                             unsigned *anchors) {
  static const char plain[] = "-_:/@,;=!%&~#'\"<>` ";
  unsigned a = 0;
  if (n && p[0] == '^') a |= CONDITION_LIT_START, p++, n--;
  if (n && p[n - 1] == '$') a |= CONDITION_LIT_END, n--;
  if (!n) return false; /* an empty match next to invalid UTF-8: PCRE2's rules, not a byte's */
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)p[i];
    bool alnum = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
    if (!alnum && !memchr(plain, ch, sizeof plain - 1)) return false; /* NUL included */
  }
  *text = p;
  *textn = n;
  *anchors = a;
  return true;
}

static int compile_regex(compiler_t *k, op_t *op, const json_t *arg, bool caseless) {
  if (!json_is_string(arg)) {
    int rc = bad(k, "a regular expression must be a string");
    if (rc) return rc;
  }
  condition_js_str_t pat;
  condition_js_str_init(&pat);
  condition_js_to_string(arg, &pat); /* SDK: new RegExp(String(arg)) */
  uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_ALT_BSUX |
                  PCRE2_ALLOW_EMPTY_CLASS | PCRE2_MATCH_UNSET_BACKREF;
  if (caseless) opts |= PCRE2_CASELESS;
  int err;
  PCRE2_SIZE off;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat.p, pat.len, opts, &err, &off, NULL);
  condition_js_str_free(&pat);
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
  const char *text;
  if (!caseless && json_is_string(arg) &&
      condition_regex_literal(json_string_value(arg), json_string_length(arg), &text,
                              &op->litn, &op->lit_anchors)) {
    if (!(op->lit = alloc(k, op->litn + 1))) return OOM(k);
    memcpy(op->lit, text, op->litn);
    op->lit[op->litn] = 0;
  }
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
    condition_js_str_t v;
    condition_js_str_init(&v);
    condition_js_padded_version(arg, &v);
    op->version = arena_strndup(&k->c->arena, v.p, v.len);
    condition_js_str_free(&v);
    return op->version ? 0 : OOM(k);
  }
  case OP_EXISTS:
    op->flag = condition_js_truthy(arg);
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
  atomic_init(&c->spare_md, NULL);
  arena_init(&c->arena, 0);
  c->json = json_incref(cond);
  compiler_t k = {.c = c, .flags = flags, .e = e};
  path_push(&k, "%s%.0zu", "rule", 0);
  int rc = compile_obj(&k, cond, &c->root, 0);
  if (!rc && condition_prog_build(c)) rc = perr_set(e, PERR_INTERNAL, "rule", "out of memory");
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
  pcre2_match_data_free(atomic_load(&c->spare_md));
  json_decref(c->json);
  arena_free(&c->arena);
  free(c);
}

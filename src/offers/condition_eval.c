/* condition_eval.c -- evaluate a compiled condition against JSON attributes, exactly as the
 * GrowthBook JavaScript SDK's evalCondition (rules in condition.h). Invariant: evaluation
 * only reads the tree (the one exception, a spare PCRE2 match data kept for the next regex
 * match, is taken and given back with atomic exchanges), so one condition may be evaluated
 * from many threads at once. */
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "offers/condition.h"
#include "offers/condition_internal.h"

typedef struct evalctx_s {
  const condition_t *c;
  const json_t *groups;
  condition_get_fn get; /* non-NULL: the attributes object's members come from get */
  void *ctx;
} evalctx_t;

/* obj: the object paths start from; root: it is the attributes object (not an element
 * $elemMatch tests), whose members come from x->get when set. */
static bool eval_obj(const evalctx_t *x, const cobj_t *o, const json_t *obj, bool root);
static bool eval_val(const evalctx_t *x, const cval_t *cv, const json_t *v);

/* getPath: walk objects (and arrays by index); anything missing reads as null (NULL). */
const json_t *condition_get_path(const json_t *obj, char *const *parts, size_t n) {
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

static bool eval_obj(const evalctx_t *x, const cobj_t *o, const json_t *obj, bool root) {
  for (size_t i = 0; i < o->n; i++) {
    const entry_t *en = &o->entries[i];
    bool ok = true;
    switch (en->kind) {
    case E_AND:
      for (size_t s = 0; s < en->nsubs && ok; s++) ok = eval_obj(x, en->subs[s], obj, root);
      break;
    case E_OR:
    case E_NOR: {
      bool any = en->nsubs == 0; /* an empty $or passes */
      for (size_t s = 0; s < en->nsubs && !any; s++) any = eval_obj(x, en->subs[s], obj, root);
      ok = en->kind == E_OR ? any : !any;
      break;
    }
    case E_NOT: ok = !eval_obj(x, en->sub, obj, root); break;
    case E_PATH: {
      const json_t *v;
      if (root && x->get) { /* the first part from get, then as get_path walks */
        v = x->get(x->ctx, en->name);
        if (v && en->nparts > 1) v = condition_get_path(v, en->parts + 1, en->nparts - 1);
      } else {
        v = condition_get_path(obj, en->parts, en->nparts);
      }
      ok = eval_val(x, en->val, v);
      break;
    }
    }
    if (!ok) return false;
  }
  return true;
}

static bool same_value(const json_t *a, const json_t *b, bool caseless) {
  if (caseless && json_is_string(a) && json_is_string(b))
    return condition_js_equal_caseless(json_string_value(a), json_string_length(a), json_string_value(b),
                             json_string_length(b));
  return condition_js_strict_equal(a, b);
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

bool condition_literal_match(const char *lit, size_t litn, unsigned anchors, const char *s,
                             size_t n) {
  if (litn > n) return false;
  switch (anchors) {
  case CONDITION_LIT_START: return !memcmp(s, lit, litn);
  case CONDITION_LIT_END: return !memcmp(s + n - litn, lit, litn);
  case CONDITION_LIT_START | CONDITION_LIT_END: return n == litn && !memcmp(s, lit, litn);
  default:
    if (!litn) return true;
    for (const char *p = s, *end = s + n - litn + 1;
         (p = memchr(p, lit[0], (size_t)(end - p))) != NULL; p++)
      if (!memcmp(p, lit, litn)) return true;
    return false;
  }
}

bool condition_regex_subject(const condition_t *cc, const op_t *op, const char *subject,
                             size_t len) {
  if (op->lit) return condition_literal_match(op->lit, op->litn, op->lit_anchors, subject, len);
  condition_t *c = (condition_t *)cc; /* only its spare match data changes */
  pcre2_match_data *md = atomic_exchange(&c->spare_md, NULL);
  if (!md) md = pcre2_match_data_create(1, NULL);
  int rc = md ? pcre2_match(op->re, (PCRE2_SPTR)subject, len, 0, 0, md, c->mctx) : -1;
  pcre2_match_data_free(atomic_exchange(&c->spare_md, md)); /* another thread's, if any */
  return rc >= 0;
}

static bool regex_test(const evalctx_t *x, const op_t *op, const json_t *value) {
  if (json_is_string(value)) /* String(value) is value itself: no copy */
    return condition_regex_subject(x->c, op, json_string_value(value), json_string_length(value));
  condition_js_str_t s;
  condition_js_str_init(&s);
  condition_js_to_string(value, &s);
  bool ok = condition_regex_subject(x->c, op, s.p, s.len);
  condition_js_str_free(&s);
  return ok;
}

static int version_cmp(const json_t *value, const char *expected) {
  condition_js_str_t v;
  condition_js_str_init(&v);
  condition_js_padded_version(value, &v);
  int c = utf16_compare(v.p, v.len, expected, strlen(expected));
  condition_js_str_free(&v);
  return c;
}

static bool eval_op(const evalctx_t *x, const op_t *op, const json_t *v) {
  switch (op->op) {
  case OP_EQ: return condition_js_strict_equal(v, op->arg);
  case OP_NE: return !condition_js_strict_equal(v, op->arg);
  case OP_LT: return condition_js_compare(v, op->arg) == -1;
  case OP_LTE: {
    int c = condition_js_compare(v, op->arg);
    return c == -1 || c == 0;
  }
  case OP_GT: return condition_js_compare(v, op->arg) == 1;
  case OP_GTE: {
    int c = condition_js_compare(v, op->arg);
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
      if (!condition_js_truthy(el)) continue; /* the SDK skips falsy elements */
      if (op->val ? eval_val(x, op->val, el) : eval_obj(x, op->obj, el, false)) return true;
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
  case OP_REGEX: return regex_test(x, op, v);
  case OP_TYPE: {
    const char *want = json_string_value(op->arg); /* NULL for a non-string (compat mode) */
    return want && !strcmp(condition_js_type_name(v), want);
  }
  case OP_FALSE: return false;
  }
  return false;
}

static bool eval_val(const evalctx_t *x, const cval_t *cv, const json_t *v) {
  switch (cv->kind) {
  case V_STR: {
    if (json_is_string(v)) { /* String(v) is v itself: no copy */
      const char *have = json_string_value(v), *want = json_string_value(cv->json);
      size_t hlen = json_string_length(v), wlen = json_string_length(cv->json);
      return cv->caseless ? condition_js_equal_caseless(have, hlen, want, wlen)
                          : hlen == wlen && memcmp(have, want, wlen) == 0;
    }
    condition_js_str_t s;
    condition_js_str_init(&s);
    condition_js_to_string(v, &s);
    const char *want = json_string_value(cv->json);
    size_t wlen = json_string_length(cv->json);
    bool eq = cv->caseless ? condition_js_equal_caseless(s.p, s.len, want, wlen)
                           : s.len == wlen && memcmp(s.p, want, wlen) == 0;
    condition_js_str_free(&s);
    return eq;
  }
  case V_NUM: return condition_js_to_number(v) == cv->num;
  case V_BOOL: return v && !json_is_null(v) && condition_js_truthy(v) == cv->b;
  case V_NULL: return !v || json_is_null(v);
  case V_DEEP: return condition_js_stringify_equal(v, cv->json);
  case V_OPS:
    for (size_t i = 0; i < cv->nops; i++)
      if (!eval_op(x, &cv->ops[i], v)) return false;
    return true;
  }
  return false;
}

bool condition_tree_val(const condition_t *c, const cval_t *cv, const json_t *v) {
  evalctx_t x = {.c = c};
  return eval_val(&x, cv, v);
}

bool condition_tree_op(const condition_t *c, const op_t *op, const json_t *v) {
  evalctx_t x = {.c = c};
  return eval_op(&x, op, v);
}

bool condition_eval_groups(const condition_t *c, const json_t *attrs, const json_t *groups) {
  if (!c) return true;
  evalctx_t x = {.c = c, .groups = groups};
  return eval_obj(&x, c->root, attrs, true); /* NULL attrs: every path reads as null */
}

bool condition_eval_get(const condition_t *c, condition_get_fn get, void *ctx) {
  if (!c) return true;
  evalctx_t x = {.c = c, .get = get, .ctx = ctx};
  return eval_obj(&x, c->root, NULL, true);
}

size_t condition_names(const condition_t *c, const char *const **out) {
  *out = c ? c->names : NULL;
  return c ? c->nnames : 0;
}

bool condition_eval(const condition_t *c, const json_t *attrs) {
  return condition_eval_groups(c, attrs, NULL);
}

static void names_obj(const cobj_t *o, void (*fn)(const char *, void *), void *ctx) {
  for (size_t i = 0; o && i < o->n; i++) {
    const entry_t *en = &o->entries[i];
    switch (en->kind) {
    case E_AND:
    case E_OR:
    case E_NOR:
      for (size_t s = 0; s < en->nsubs; s++) names_obj(en->subs[s], fn, ctx);
      break;
    case E_NOT: names_obj(en->sub, fn, ctx); break;
    case E_PATH:
      if (en->nparts) fn(en->parts[0], ctx);
      break;
    }
  }
}

void condition_attributes(const condition_t *c, void (*fn)(const char *name, void *ctx),
                          void *ctx) {
  if (c) names_obj(c->root, fn, ctx);
}

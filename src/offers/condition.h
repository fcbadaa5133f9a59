/* condition.h -- GrowthBook's MongoDB-style targeting conditions, compiled once and evaluated
 * against JSON attributes exactly as the GrowthBook JavaScript SDK does (all 248
 * evalCondition cases of GrowthBook's cases.json pass; docs/EXPERIMENTS.md lists the rules).
 *
 * Operators: $and $or $nor $not (logical); $eq $ne $gt $gte $lt $lte (JS === and JS
 * relational comparison: two strings compare by UTF-16 code units, otherwise both sides are
 * converted to numbers, null -> 0); $in $nin $ini $nini (membership, intersection when the
 * attribute is an array; the *i forms ignore ASCII case); $all $alli $size $elemMatch
 * (arrays; $elemMatch skips falsy elements like the SDK); $exists $type; $regex $regexi
 * (PCRE2, see below); $vgt $vgte $vlt $vlte $veq $vne (versions compared as GrowthBook's
 * padded version strings); $inGroup $notInGroup (saved groups). A plain value means
 * equality (string: String(attr) === s; number: Number(attr) === n; boolean: attr not null
 * and truthy == b; null: attr is null or missing; array or non-operator object: equal
 * JSON.stringify). Paths are dotted ("father.age"); a missing path reads as null.
 *
 * Regexes: PCRE2 with the options closest to a JavaScript RegExp without flags: UTF,
 * DOLLAR_ENDONLY ($ only at the very end), ALT_BSUX (\uhhhh, \xhh), ALLOW_EMPTY_CLASS ([]
 * and [^]), MATCH_UNSET_BACKREF, invalid UTF-8 in subjects tolerated; $regexi adds CASELESS.
 * The subject is String(attr) (null -> "null"). Known differences from JS: PCRE2 accepts some
 * syntax JS rejects (possessive quantifiers, atomic groups, \A \Z, inline (?i)), "." and
 * character classes work on code points, not UTF-16 units, and matching is bounded by a
 * match limit (a runaway pattern does not match instead of hanging).
 *
 * Compile modes: condition_compile() is strict, for data Patron stores (offer eligibility):
 * an unknown operator, an operand of the wrong type or an invalid regex is an
 * invalid_params error whose field names the bad path ("rule.$and[1].age.$gt").
 * CONDITION_SDK_COMPAT compiles what the SDK would evaluate instead (an unknown operator or
 * an invalid regex is simply false), for conformance with GrowthBook payloads.
 *
 * Invariants: a compiled condition is immutable (but for a spare regex match data, taken and
 * given back atomically), and may be evaluated from many threads at once; it keeps a
 * reference to the JSON it was built from. */
#ifndef PATRON_CONDITION_H
#define PATRON_CONDITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/perr.h"

typedef struct condition_s condition_t;

enum {
  CONDITION_STRICT = 0,
  CONDITION_SDK_COMPAT = 1, /* evaluate invalid parts as the SDK does instead of refusing */
};

/* Strict compile (see above). On error returns a negative perr code, *out = NULL, and fills
 * e (code, message, field). cond must be a JSON object. */
int condition_compile(json_t *cond, condition_t **out, perr_info_t *e);
int condition_compile_ex(json_t *cond, int flags, condition_t **out, perr_info_t *e);

/* Whether attrs (a JSON object; NULL = {}) satisfy the condition. */
bool condition_eval(const condition_t *c, const json_t *attrs);
/* Same, with saved groups for $inGroup / $notInGroup ({"group": [values...]}; may be NULL). */
bool condition_eval_groups(const condition_t *c, const json_t *attrs, const json_t *groups);

/* The attributes supplied one at a time: get(ctx, i) is the value of the attribute
 * names[i] (NULL: missing), names as condition_names gives them. Equal to condition_eval
 * over an object whenever get(ctx, i) returns that object's member names[i]; get is called
 * only for what the evaluation reads (and may be called more than once for one name). */
typedef const json_t *(*condition_get_fn)(void *ctx, size_t name);
bool condition_eval_get(const condition_t *c, condition_get_fn get, void *ctx);
/* The distinct first parts of the condition's paths (those inside $elemMatch objects
 * included: get is never asked for those), in a fixed order; *out points into c. */
size_t condition_names(const condition_t *c, const char *const **out);

/* The compiled program (condition_prog.c): every condition is also compiled into a flat
 * array of nodes over attribute names with its constants typed, evaluated on typed values
 * (no JSON for a string, a number, a boolean or null; arrays and objects stay JSON). It
 * gives the tree's answer for every condition and attributes
 * (tests/unit/test_condition.c compares them over random conditions and every GrowthBook
 * case); the rare parts it does not type (versions, $size, $type, saved groups, deep
 * equality, a non-string relational operand) run the tree's code on the value as JSON. */
enum {
  CONDITION_VALUE_NULL = 0, /* missing or JSON null (the SDK does not tell them apart) */
  CONDITION_VALUE_BOOL,
  CONDITION_VALUE_INT,  /* a JSON integer */
  CONDITION_VALUE_REAL, /* a JSON real: finite */
  CONDITION_VALUE_STR,  /* s[n], UTF-8 as jansson accepts it (NULs allowed) */
  CONDITION_VALUE_JSON, /* an array or an object: json */
  CONDITION_VALUE_STRS, /* an array of strings strs[0..n), each as CONDITION_VALUE_STR */
};
typedef struct condition_str_s {
  const char *s;
  size_t n;
} condition_str_t;
typedef struct condition_value_s {
  unsigned char type;
  bool b;
  size_t n;
  union {
    int64_t i;
    double d;
  };
  union {
    const char *s;
    const json_t *json;
    const condition_str_t *strs;
  };
} condition_value_t;
/* The value j holds (NULL: null). */
void condition_value_from_json(const json_t *j, condition_value_t *out);
/* get(ctx, i, scratch) is the value of the attribute names[i] (condition_names): scratch
 * filled, or a value of get's that stays as it is during the evaluation. Equal to
 * condition_eval_get whenever get gives what condition_value_from_json makes of the member
 * condition_eval_get's getter returns. */
typedef const condition_value_t *(*condition_value_fn)(void *ctx, size_t name,
                                                       condition_value_t *scratch);
bool condition_eval_values(const condition_t *c, condition_value_fn get, void *ctx);
/* The index (condition_names) of the one attribute c reads when c is a test of that
 * attribute's whole value (no dotted path: {"tier": {"$in": [...]}}, most rules), else -1;
 * then condition_eval_value(c, v) is condition_eval_values(c, get) for a get giving v for
 * it, without the call to get (the caller reads the value itself). */
int condition_single_name(const condition_t *c);
bool condition_eval_value(const condition_t *c, const condition_value_t *v);

/* Calls fn with the first part of every attribute path the condition reads from the
 * attributes object ("father" for "father.age"; paths inside $elemMatch objects are the
 * elements', not attributes, and are not reported). An attribute never reported cannot
 * change the result: evaluating without it gives the same answer. */
void condition_attributes(const condition_t *c, void (*fn)(const char *name, void *ctx),
                          void *ctx);

void condition_free(condition_t *c);

#endif

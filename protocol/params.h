/* params.h -- typed access to a request's named-field map (params[0]) with precise,
 * structured errors. Every getter reports the offending field by its full path
 * ("lines[2].quantity"). Strings returned point into the msgpack object (zero copy) and live
 * as long as the decoded message's zone.
 * Invariant: a map is checked for unknown keys with params_check_keys before use, so a typo
 * in a field name is an error, never silently ignored. */
#ifndef PATRON_PARAMS_H
#define PATRON_PARAMS_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"

#include "commerce/commerce.h"
#include "base/perr.h"

typedef struct pmap_s {
  const msgpack_object_map *map; /* NULL = empty map */
  const char *path;              /* prefix for field names ("" or "lines[2]") */
} pmap_t;

/* Wrap obj (must be a map; nil counts as empty) at path. */
int pmap_from(const msgpack_object *obj, const char *path, pmap_t *out, perr_info_t *e);
/* Error if the map has a key not in the NULL-terminated list, or a key that is not a string. */
int pmap_check_keys(const pmap_t *m, const char *const *allowed, perr_info_t *e);
const msgpack_object *pmap_find(const pmap_t *m, const char *key);

/* Each getter: required=1 makes absence an error; when absent and optional returns 0 and
 * sets *present=0 (present may be NULL). nil counts as absent. */
int pmap_str(const pmap_t *m, const char *key, int required, size_t min, size_t max, pstr_t *out,
             int *present, perr_info_t *e);
int pmap_int(const pmap_t *m, const char *key, int required, int64_t min, int64_t max,
             int64_t *out, int *present, perr_info_t *e);
int pmap_bool(const pmap_t *m, const char *key, int required, int *out, int *present,
              perr_info_t *e);
int pmap_array(const pmap_t *m, const char *key, int required, size_t min, size_t max,
               const msgpack_object_array **out, int *present, perr_info_t *e);
int pmap_double(const pmap_t *m, const char *key, int required, double min, double max,
                double *out, int *present, perr_info_t *e);
/* An array of strings (ids), each 1..max_len bytes, into an arena array. */
int pmap_str_list(const pmap_t *m, const char *key, int required, size_t max_items,
                  size_t max_len, arena_t *a, pstr_t **out, size_t *n, perr_info_t *e);
/* The same with at least min_items (a violation says "KEY must have MIN to MAX items"). */
int pmap_str_list_min(const pmap_t *m, const char *key, int required, size_t min_items,
                      size_t max_items, size_t max_len, arena_t *a, pstr_t **out, size_t *n,
                      perr_info_t *e);

/* Format "path.key" or "key" into buf. */
const char *pmap_field(const pmap_t *m, const char *key, char *buf, size_t len);

/* ---- declarative decoding: one field table per params struct ----
 * A pspec_t lists a map's fields: name, type, where the value goes in the params struct,
 * bounds, required, default. The same table gives the allowed names (the unknown-field check)
 * and drives the extraction, field by field in table order, with the getters above, so every
 * error code, message and field path is the getters'. A field's check runs right after it is
 * extracted (cross-field rules: "currency is required with price"), so the first problem in
 * table order is the one reported. Absent optional fields get their default (0 unless .def /
 * .def_d), and their presence flag (.present) is set to 0. */
typedef enum {
  PF_STR,     /* pstr_t; min..max bytes */
  PF_INT,     /* int64_t; min..max */
  PF_U32,     /* uint32_t, from an integer in min..max */
  PF_BOOL,    /* int 0/1 */
  PF_DOUBLE,  /* double; dmin..dmax; integers accepted */
  PF_STRS,    /* pstr_t * + size_t count (.count): min..max strings of 1..item_max bytes */
  PF_MAP,     /* a nested struct decoded by .sub; path "key.field" */
  PF_MAPS,    /* an array of min..max maps into an arena array of .elem_size structs decoded
                 by .sub (pointer at .off, size_t count at .count); path "key[i].field" */
  PF_CUSTOM,  /* .check does the extraction (names an enum, bounds that depend on another field) */
} pfield_type_t;

struct pfield_s;
typedef int (*pfield_check_fn)(const pmap_t *m, const struct pfield_s *f, void *out, arena_t *a,
                               perr_info_t *e);

typedef struct pspec_s {
  const struct pfield_s *fields;
  size_t n;
} pspec_t;

typedef struct pfield_s {
  const char *name;
  size_t name_len;           /* strlen(name), set by the P_* macros (0 = not set: measured) */
  pfield_type_t type;
  int required;
  size_t off;                /* offset of the value in the struct */
  size_t present;            /* offsetof(int flag) + 1, or 0: no presence flag */
  size_t count;              /* PF_STRS / PF_MAPS: offset of the size_t count */
  int64_t min, max;          /* bytes (PF_STR), value (PF_INT/U32), items (PF_STRS/MAPS) */
  double dmin, dmax;         /* PF_DOUBLE */
  int64_t def;               /* PF_INT / PF_U32 / PF_BOOL default when absent */
  double def_d;              /* PF_DOUBLE default when absent */
  size_t item_max;           /* PF_STRS: bytes per string */
  size_t elem_size;          /* PF_MAPS */
  const pspec_t *sub;        /* PF_MAP / PF_MAPS */
  pfield_check_fn check;     /* PF_CUSTOM: the extraction; else run after the extraction */
} pfield_t;

/* The length of a field name, which must be a string literal (a compile error otherwise). */
#define PF_NAME_LEN(k) (sizeof(k "") - 1)
#define PF_NAME(k) .name = k, .name_len = PF_NAME_LEN(k)
#define PSPEC(fields) {fields, sizeof fields / sizeof fields[0]}
/* offsetof(T, fld), and a compile error unless the member has type ty. */
#define PF_OFF(T, fld, ty) _Generic(((T *)0)->fld, ty: offsetof(T, fld))
#define PF_PRESENT(T, flag) (PF_OFF(T, flag, int) + 1)
/* Table rows; trailing arguments add designated initializers (.present, .def, .check). */
#define P_STR(T, k, fld, req, lo, hi, ...)                                               \
  {PF_NAME(k), .type = PF_STR, .required = req, .off = PF_OFF(T, fld, pstr_t), .min = lo, \
   .max = hi, __VA_ARGS__}
#define P_INT(T, k, fld, req, lo, hi, ...)                                                \
  {PF_NAME(k), .type = PF_INT, .required = req, .off = PF_OFF(T, fld, int64_t), .min = lo, \
   .max = hi, __VA_ARGS__}
#define P_U32(T, k, fld, lo, hi, ...) \
  {PF_NAME(k), .type = PF_U32, .off = PF_OFF(T, fld, uint32_t), .min = lo, .max = hi, __VA_ARGS__}
#define P_BOOL(T, k, fld, ...) \
  {PF_NAME(k), .type = PF_BOOL, .off = PF_OFF(T, fld, int), __VA_ARGS__}
#define P_DOUBLE(T, k, fld, lo, hi, ...)                                                \
  {PF_NAME(k), .type = PF_DOUBLE, .off = PF_OFF(T, fld, double), .dmin = lo, .dmax = hi, \
   __VA_ARGS__}
#define P_STRS(T, k, fld, cnt, req, max_items, max_len, ...)                     \
  {PF_NAME(k), .type = PF_STRS, .required = req, .off = PF_OFF(T, fld, pstr_t *), \
   .count = PF_OFF(T, cnt, size_t), .max = max_items, .item_max = max_len, __VA_ARGS__}
#define P_MAP(T, k, fld, sub_t, spec) \
  {PF_NAME(k), .type = PF_MAP, .off = PF_OFF(T, fld, sub_t), .sub = spec}
#define P_MAPS(T, k, fld, cnt, elem_t, req, lo, hi, spec)                              \
  {PF_NAME(k), .type = PF_MAPS, .required = req, .off = PF_OFF(T, fld, elem_t *),       \
   .count = PF_OFF(T, cnt, size_t), .min = lo, .max = hi, .elem_size = sizeof(elem_t), \
   .sub = spec}
#define P_CUSTOM(k, fn) {PF_NAME(k), .type = PF_CUSTOM, .check = fn}

/* The decoder dec_<id> of a method whose params are decoded by the table <id>_spec. */
#define PARAMS_DECODER(id)                                                            \
  int dec_##id(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) { \
    return params_decode(params, &id##_spec, out, a, e);                              \
  }

/* Check m's keys against spec's names, then extract every field into out. */
int pmap_decode(const pmap_t *m, const pspec_t *spec, void *out, arena_t *a, perr_info_t *e);
/* The params map of a request (nil/absent = empty) decoded by spec. */
int params_decode(const msgpack_object *params, const pspec_t *spec, void *out, arena_t *a,
                  perr_info_t *e);

#endif

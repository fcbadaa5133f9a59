/* params.h -- typed access to a request's named-field map (params[0]) with precise,
 * structured errors. Every getter reports the offending field by its full path
 * ("lines[2].quantity"). Strings returned point into the msgpack object (zero copy) and live
 * as long as the decoded message's zone.
 * Invariant: a map is checked for unknown keys with params_check_keys before use, so a typo
 * in a field name is an error, never silently ignored. */
#ifndef PATRON_PARAMS_H
#define PATRON_PARAMS_H

#include <msgpack.h>
#include <stdint.h>

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

#endif

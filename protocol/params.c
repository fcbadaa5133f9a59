/* params.c -- see params.h. */
#include "params.h"

#include <stdio.h>
#include <string.h>

/* "path.key" (or "key" at the top level), truncated like snprintf; built by hand because a
 * nested map's path is built on every decode, error or not. */
const char *pmap_field(const pmap_t *m, const char *key, char *buf, size_t len) {
  const char *parts[3] = {m->path ? m->path : "", m->path && m->path[0] ? "." : "", key};
  size_t n = 0;
  if (len == 0) return buf;
  for (int i = 0; i < 3; i++)
    for (const char *p = parts[i]; *p && n + 1 < len; p++) buf[n++] = *p;
  buf[n] = 0;
  return buf;
}

int pmap_from(const msgpack_object *obj, const char *path, pmap_t *out, perr_info_t *e) {
  out->path = path;
  out->map = NULL;
  if (!obj || obj->type == MSGPACK_OBJECT_NIL) return 0;
  if (obj->type != MSGPACK_OBJECT_MAP)
    return perr_set(e, PERR_INVALID_PARAMS, path, "%s must be a map of named fields",
                    path && path[0] ? path : "params");
  out->map = &obj->via.map;
  return 0;
}

static int key_is(const msgpack_object *k, const char *key) {
  size_t n = strlen(key);
  return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && memcmp(k->via.str.ptr, key, n) == 0;
}

/* The unknown-field check, against a NULL-terminated list or a spec's names. */
static int check_keys(const pmap_t *m, const char *const *allowed, const pspec_t *spec,
                      perr_info_t *e) {
  if (!m->map) return 0;
  for (uint32_t i = 0; i < m->map->size; i++) {
    const msgpack_object *k = &m->map->ptr[i].key;
    if (k->type != MSGPACK_OBJECT_STR)
      return perr_set(e, PERR_INVALID_PARAMS, m->path, "field names must be strings");
    int ok = 0;
    if (allowed) {
      for (const char *const *a = allowed; *a; a++)
        if (key_is(k, *a)) { ok = 1; break; }
    } else {
      for (size_t f = 0; f < spec->n; f++)
        if (key_is(k, spec->fields[f].name)) { ok = 1; break; }
    }
    if (!ok) {
      char name[48], buf[64];
      size_t n = k->via.str.size < sizeof name - 1 ? k->via.str.size : sizeof name - 1;
      if (n) memcpy(name, k->via.str.ptr, n); /* an empty key may have a NULL ptr */
      name[n] = 0;
      for (size_t j = 0; j < n; j++)
        if ((unsigned char)name[j] < 0x20 || (unsigned char)name[j] > 0x7e) name[j] = '?';
      return perr_set(e, PERR_INVALID_PARAMS, pmap_field(m, name, buf, sizeof buf),
                      "unknown field '%s'", name);
    }
  }
  return 0;
}

int pmap_check_keys(const pmap_t *m, const char *const *allowed, perr_info_t *e) {
  return check_keys(m, allowed, NULL, e);
}

const msgpack_object *pmap_find(const pmap_t *m, const char *key) {
  if (!m->map) return NULL;
  for (uint32_t i = 0; i < m->map->size; i++)
    if (key_is(&m->map->ptr[i].key, key)) return &m->map->ptr[i].val;
  return NULL;
}

/* Common prologue on the value o found under key (NULL = absent): absent/nil handling.
 * Returns 1 when a value is there. */
static int have_value(const pmap_t *m, const char *key, const msgpack_object *o, int required,
                      int *present, int *rc, perr_info_t *e) {
  char buf[96];
  *rc = 0;
  if (present) *present = 0;
  if (!o || o->type == MSGPACK_OBJECT_NIL) {
    if (required)
      *rc = perr_set(e, PERR_INVALID_PARAMS, pmap_field(m, key, buf, sizeof buf),
                     "%s is required", pmap_field(m, key, buf, sizeof buf));
    return 0;
  }
  if (present) *present = 1;
  return 1;
}

static int type_error(const pmap_t *m, const char *key, const char *what, perr_info_t *e) {
  char buf[96];
  pmap_field(m, key, buf, sizeof buf);
  return perr_set(e, PERR_INVALID_PARAMS, buf, "%s must be %s", buf, what);
}

static int str_value(const pmap_t *m, const char *key, const msgpack_object *o, int required,
                     size_t min, size_t max, pstr_t *out, int *present, perr_info_t *e) {
  int rc;
  out->p = NULL;
  out->n = 0;
  if (!have_value(m, key, o, required, present, &rc, e)) return rc;
  if (o->type != MSGPACK_OBJECT_STR) return type_error(m, key, "a string", e);
  if (o->via.str.size < min || o->via.str.size > max) {
    char buf[96];
    pmap_field(m, key, buf, sizeof buf);
    if (min == max)
      return perr_set(e, PERR_INVALID_PARAMS, buf, "%s must be exactly %zu bytes long", buf, min);
    return perr_set(e, PERR_INVALID_PARAMS, buf, "%s must be %zu to %zu bytes long", buf, min, max);
  }
  out->p = o->via.str.ptr;
  out->n = o->via.str.size;
  return 0;
}

int pmap_str(const pmap_t *m, const char *key, int required, size_t min, size_t max, pstr_t *out,
             int *present, perr_info_t *e) {
  return str_value(m, key, pmap_find(m, key), required, min, max, out, present, e);
}

static int int_value(const pmap_t *m, const char *key, const msgpack_object *o, int required,
                     int64_t min, int64_t max, int64_t *out, int *present, perr_info_t *e) {
  int rc;
  int64_t v;
  if (!have_value(m, key, o, required, present, &rc, e)) return rc;
  if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
    if (max < 0 || o->via.u64 > (uint64_t)max) goto range;
    v = (int64_t)o->via.u64;
  } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
    v = o->via.i64;
  } else {
    return type_error(m, key, "an integer", e);
  }
  if (v < min || v > max) goto range;
  *out = v;
  return 0;
range: {
    char buf[96];
    pmap_field(m, key, buf, sizeof buf);
    return perr_set(e, PERR_INVALID_PARAMS, buf, "%s must be between %lld and %lld", buf,
                    (long long)min, (long long)max);
  }
}

int pmap_int(const pmap_t *m, const char *key, int required, int64_t min, int64_t max,
             int64_t *out, int *present, perr_info_t *e) {
  return int_value(m, key, pmap_find(m, key), required, min, max, out, present, e);
}

static int double_value(const pmap_t *m, const char *key, const msgpack_object *o, int required,
                        double min, double max, double *out, int *present, perr_info_t *e) {
  int rc;
  double v;
  if (!have_value(m, key, o, required, present, &rc, e)) return rc;
  switch (o->type) {
    case MSGPACK_OBJECT_FLOAT32: case MSGPACK_OBJECT_FLOAT64: v = o->via.f64; break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: v = (double)o->via.u64; break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: v = (double)o->via.i64; break;
    default: return type_error(m, key, "a number", e);
  }
  if (!(v >= min && v <= max)) {
    char buf[96];
    pmap_field(m, key, buf, sizeof buf);
    return perr_set(e, PERR_INVALID_PARAMS, buf, "%s must be between %g and %g", buf, min, max);
  }
  *out = v;
  return 0;
}

int pmap_double(const pmap_t *m, const char *key, int required, double min, double max,
                double *out, int *present, perr_info_t *e) {
  return double_value(m, key, pmap_find(m, key), required, min, max, out, present, e);
}

static int bool_value(const pmap_t *m, const char *key, const msgpack_object *o, int required,
                      int *out, int *present, perr_info_t *e) {
  int rc;
  if (!have_value(m, key, o, required, present, &rc, e)) return rc;
  if (o->type != MSGPACK_OBJECT_BOOLEAN) return type_error(m, key, "true or false", e);
  *out = o->via.boolean ? 1 : 0;
  return 0;
}

int pmap_bool(const pmap_t *m, const char *key, int required, int *out, int *present,
              perr_info_t *e) {
  return bool_value(m, key, pmap_find(m, key), required, out, present, e);
}

static int array_value(const pmap_t *m, const char *key, const msgpack_object *o, int required,
                       size_t min, size_t max, const msgpack_object_array **out, int *present,
                       perr_info_t *e) {
  int rc;
  *out = NULL;
  if (!have_value(m, key, o, required, present, &rc, e)) return rc;
  if (o->type != MSGPACK_OBJECT_ARRAY) return type_error(m, key, "an array", e);
  if (o->via.array.size < min || o->via.array.size > max) {
    char buf[96];
    pmap_field(m, key, buf, sizeof buf);
    return perr_set(e, PERR_INVALID_PARAMS, buf, "%s must have %zu to %zu items", buf, min, max);
  }
  *out = &o->via.array;
  return 0;
}

int pmap_array(const pmap_t *m, const char *key, int required, size_t min, size_t max,
               const msgpack_object_array **out, int *present, perr_info_t *e) {
  return array_value(m, key, pmap_find(m, key), required, min, max, out, present, e);
}

int pmap_str_list(const pmap_t *m, const char *key, int required, size_t max_items,
                  size_t max_len, arena_t *a, pstr_t **out, size_t *n, perr_info_t *e) {
  return pmap_str_list_min(m, key, required, 0, max_items, max_len, a, out, n, e);
}

/* pmap_str_list_min on the value o found under key (NULL = absent). */
static int str_list_value(const pmap_t *m, const char *key, const msgpack_object *o, int required,
                          size_t min_items, size_t max_items, size_t max_len, arena_t *a,
                          pstr_t **out, size_t *n, perr_info_t *e) {
  const msgpack_object_array *arr;
  int present, rc;
  *out = NULL;
  *n = 0;
  if ((rc = array_value(m, key, o, required, min_items, max_items, &arr, &present, e)) || !present)
    return rc;
  pstr_t *v = arena_alloc(a, sizeof *v * (arr->size ? arr->size : 1));
  if (!v) return perr_set(e, PERR_TOO_LARGE, key, "request too large");
  for (uint32_t i = 0; i < arr->size; i++) {
    const msgpack_object *s = &arr->ptr[i];
    if (s->type != MSGPACK_OBJECT_STR || s->via.str.size == 0 || s->via.str.size > max_len) {
      char buf[96], f[64];
      snprintf(f, sizeof f, "%s[%u]", key, i);
      pmap_field(m, f, buf, sizeof buf);
      return perr_set(e, PERR_INVALID_PARAMS, buf, "%s must be a string of 1 to %zu bytes", buf,
                      max_len);
    }
    v[i].p = s->via.str.ptr;
    v[i].n = s->via.str.size;
  }
  *out = v;
  *n = arr->size;
  return 0;
}

int pmap_str_list_min(const pmap_t *m, const char *key, int required, size_t min_items,
                      size_t max_items, size_t max_len, arena_t *a, pstr_t **out, size_t *n,
                      perr_info_t *e) {
  return str_list_value(m, key, pmap_find(m, key), required, min_items, max_items, max_len, a,
                        out, n, e);
}

/* ---- declarative decoding ---- */

/* An array of maps (PF_MAPS) o: each element decoded by f->sub into an arena array. */
static int decode_maps(const pmap_t *m, const pfield_t *f, const msgpack_object *val, char *out,
                       arena_t *a, perr_info_t *e) {
  const msgpack_object_array *arr;
  int present, rc;
  *(void **)(out + f->off) = NULL;
  *(size_t *)(out + f->count) = 0;
  if ((rc = array_value(m, f->name, val, f->required, (size_t)f->min, (size_t)f->max, &arr,
                        &present, e)) ||
      !present)
    return rc;
  char *elems = arena_alloc(a, f->elem_size * (arr->size ? arr->size : 1));
  if (!elems) return perr_set(e, PERR_TOO_LARGE, f->name, "too many %s", f->name);
  for (uint32_t i = 0; i < arr->size; i++) {
    const msgpack_object *o = &arr->ptr[i];
    char *dst = elems + f->elem_size * i;
    pmap_t em;
    /* the element's path ("lines[3]") only matters in an error: decode without it first
     * (formatting it for every element of a long order was a tenth of a bulk import's
     * decoding) and, on failure, decode again with it for the error's field and message */
    if (o->type == MSGPACK_OBJECT_MAP && o->via.map.size > 0) {
      em.map = &o->via.map;
      em.path = "";
      if (pmap_decode(&em, f->sub, dst, a, e) == 0) continue;
    }
    char key[64], path[96];
    snprintf(key, sizeof key, "%s[%u]", f->name, i);
    pmap_field(m, key, path, sizeof path);
    if ((rc = pmap_from(o, path, &em, e))) return rc;
    if (!em.map) return perr_set(e, PERR_INVALID_PARAMS, path, "%s must be a map", path);
    if ((rc = pmap_decode(&em, f->sub, dst, a, e))) return rc;
  }
  *(void **)(out + f->off) = elems;
  *(size_t *)(out + f->count) = arr->size;
  return 0;
}

/* One field from its value val (NULL = absent from the map). */
static int decode_field(const pmap_t *m, const pfield_t *f, const msgpack_object *val, char *out,
                        arena_t *a, perr_info_t *e) {
  int *present = f->present ? (int *)(out + f->present - 1) : NULL;
  switch (f->type) {
    case PF_STR:
      return str_value(m, f->name, val, f->required, (size_t)f->min, (size_t)f->max,
                       (pstr_t *)(out + f->off), present, e);
    case PF_INT:
      *(int64_t *)(out + f->off) = f->def;
      return int_value(m, f->name, val, f->required, f->min, f->max, (int64_t *)(out + f->off),
                       present, e);
    case PF_U32: {
      int64_t v = f->def;
      int rc = int_value(m, f->name, val, f->required, f->min, f->max, &v, present, e);
      if (!rc) *(uint32_t *)(out + f->off) = (uint32_t)v;
      return rc;
    }
    case PF_BOOL:
      *(int *)(out + f->off) = (int)f->def;
      return bool_value(m, f->name, val, f->required, (int *)(out + f->off), present, e);
    case PF_DOUBLE:
      *(double *)(out + f->off) = f->def_d;
      return double_value(m, f->name, val, f->required, f->dmin, f->dmax,
                          (double *)(out + f->off), present, e);
    case PF_STRS:
      return str_list_value(m, f->name, val, f->required, (size_t)f->min, (size_t)f->max,
                            f->item_max, a, (pstr_t **)(out + f->off),
                            (size_t *)(out + f->count), e);
    case PF_MAP: {
      char path[96];
      pmap_t sm;
      int rc = pmap_from(val, pmap_field(m, f->name, path, sizeof path), &sm, e);
      return rc ? rc : pmap_decode(&sm, f->sub, out + f->off, a, e);
    }
    case PF_MAPS:
      return decode_maps(m, f, val, out, a, e);
    case PF_CUSTOM:
      return f->check(m, f, out, a, e);
  }
  return perr_set(e, PERR_INTERNAL, f->name, "bad field table");
}

/* Key k (a msgpack str) is the name of field f. */
static int name_is(const pfield_t *f, const msgpack_object *k) {
  uint32_t n = k->via.str.size;
  if (f->name_len) return n == f->name_len && memcmp(f->name, k->via.str.ptr, n) == 0;
  return key_is(k, f->name);
}

enum { SPEC_SLOTS = 32 }; /* the largest field table has 15 fields */

/* One pass over the map's keys: each is matched to its field (the search starts after the
 * previous key's field, so keys sent in table order match at the first comparison) and its
 * value noted in vals (the first one when a key repeats, as pmap_find). Any other key is
 * the unknown-field error of check_keys. */
static int match_keys(const pmap_t *m, const pspec_t *spec, const msgpack_object **vals,
                      perr_info_t *e) {
  size_t next = 0;
  for (uint32_t i = 0; i < m->map->size; i++) {
    const msgpack_object *k = &m->map->ptr[i].key;
    size_t f = spec->n;
    if (k->type == MSGPACK_OBJECT_STR)
      for (size_t t = 0; t < spec->n; t++) {
        size_t c = next + t < spec->n ? next + t : next + t - spec->n;
        if (name_is(&spec->fields[c], k)) {
          f = c;
          break;
        }
      }
    if (f == spec->n) return check_keys(m, NULL, spec, e); /* reports key i */
    if (!vals[f]) vals[f] = &m->map->ptr[i].val;
    next = f + 1 < spec->n ? f + 1 : 0;
  }
  return 0;
}

/* The common case of a map of plain fields (strings and integers without presence flag or
 * check, like an order's lines) sent as the table lists them, one key per field, every value
 * valid: decoded in one pass without the general machinery. 1 when done; 0 when the map is
 * anything else (the general path then decodes it, writing every field again). */
static int decode_in_order(const pmap_t *m, const pspec_t *spec, char *out) {
  if (m->map->size != spec->n) return 0;
  for (size_t i = 0; i < spec->n; i++) {
    const pfield_t *f = &spec->fields[i];
    const msgpack_object *k = &m->map->ptr[i].key, *v = &m->map->ptr[i].val;
    if (f->check || f->present || !f->name_len || k->type != MSGPACK_OBJECT_STR ||
        k->via.str.size != f->name_len || memcmp(k->via.str.ptr, f->name, f->name_len) != 0)
      return 0;
    if (f->type == PF_STR) {
      if (v->type != MSGPACK_OBJECT_STR || v->via.str.size < (uint64_t)f->min ||
          v->via.str.size > (uint64_t)f->max)
        return 0;
      *(pstr_t *)(out + f->off) = (pstr_t){v->via.str.ptr, v->via.str.size};
    } else if (f->type == PF_INT) {
      if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || f->max < 0 ||
          v->via.u64 > (uint64_t)f->max || (int64_t)v->via.u64 < f->min)
        return 0; /* negative numbers take the general path */
      *(int64_t *)(out + f->off) = (int64_t)v->via.u64;
    } else {
      return 0;
    }
  }
  return 1;
}

int pmap_decode(const pmap_t *m, const pspec_t *spec, void *out, arena_t *a, perr_info_t *e) {
  if (m->map && decode_in_order(m, spec, out)) return 0;
  const msgpack_object *vals[SPEC_SLOTS];
  int slots = spec->n <= SPEC_SLOTS;
  if (slots) memset(vals, 0, spec->n * sizeof vals[0]);
  int rc = !m->map ? 0 : slots ? match_keys(m, spec, vals, e) : check_keys(m, NULL, spec, e);
  for (size_t i = 0; !rc && i < spec->n; i++) {
    const pfield_t *f = &spec->fields[i];
    rc = decode_field(m, f, slots ? vals[i] : pmap_find(m, f->name), out, a, e);
    if (!rc && f->check && f->type != PF_CUSTOM) rc = f->check(m, f, out, a, e);
  }
  return rc;
}

int params_decode(const msgpack_object *params, const pspec_t *spec, void *out, arena_t *a,
                  perr_info_t *e) {
  pmap_t m;
  int rc = pmap_from(params, "", &m, e);
  return rc ? rc : pmap_decode(&m, spec, out, a, e);
}

/* json_msgpack.c -- JSON (jansson) to a msgpack object: packed into an sbuffer with
 * msgpack-c, then unpacked into a zone the caller owns (which also
 * holds the packed bytes the object's strings point into). See json_msgpack.h. */
#include "json_msgpack.h"

#include <string.h>

void json_msgpack_pack(msgpack_packer *pk, const json_t *j) {
  switch (json_typeof(j)) {
    case JSON_OBJECT: {
      const char *k;
      json_t *v;
      msgpack_pack_map(pk, json_object_size(j));
      json_object_foreach((json_t *)j, k, v) {
        size_t n = strlen(k);
        msgpack_pack_str(pk, n);
        msgpack_pack_str_body(pk, k, n);
        json_msgpack_pack(pk, v);
      }
      return;
    }
    case JSON_ARRAY: {
      size_t i;
      json_t *v;
      msgpack_pack_array(pk, json_array_size(j));
      json_array_foreach(j, i, v) json_msgpack_pack(pk, v);
      return;
    }
    case JSON_STRING:
      msgpack_pack_str(pk, json_string_length(j));
      msgpack_pack_str_body(pk, json_string_value(j), json_string_length(j));
      return;
    case JSON_INTEGER: msgpack_pack_int64(pk, (int64_t)json_integer_value(j)); return;
    case JSON_REAL: msgpack_pack_double(pk, json_real_value(j)); return;
    case JSON_TRUE: msgpack_pack_true(pk); return;
    case JSON_FALSE: msgpack_pack_false(pk); return;
    case JSON_NULL: msgpack_pack_nil(pk); return;
  }
}

int json_to_msgpack(const json_t *j, msgpack_object *out, msgpack_zone **zone) {
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  json_msgpack_pack(&pk, j);
  *zone = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
  size_t off = 0;
  int rc = -1;
  /* the unpacked strings point into the bytes they were unpacked from: keep those in the zone */
  char *bytes = *zone && sb.data ? msgpack_zone_malloc(*zone, sb.size) : NULL;
  if (bytes) {
    memcpy(bytes, sb.data, sb.size);
    if (msgpack_unpack(bytes, sb.size, &off, *zone, out) == MSGPACK_UNPACK_SUCCESS) rc = 0;
  }
  msgpack_sbuffer_destroy(&sb);
  if (rc && *zone) {
    msgpack_zone_free(*zone);
    *zone = NULL;
  }
  return rc;
}

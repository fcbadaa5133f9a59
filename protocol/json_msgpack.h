/* json_msgpack.h -- a JSON document (jansson) as a msgpack object, so files in JSON can be
 * decoded by the method table's decoders exactly like request params (e.g. [loyalty]
 * program_file). Integers stay integers (negative -> NEGATIVE_INTEGER), reals become
 * float64, strings keep their bytes; the object lives in the returned zone. */
#ifndef PATRON_JSON_MSGPACK_H
#define PATRON_JSON_MSGPACK_H

#include <jansson.h>
#include <msgpack.h>

/* Packs j as msgpack (the encoding described above). */
void json_msgpack_pack(msgpack_packer *pk, const json_t *j);

/* 0 with *out set and *zone to free with msgpack_zone_free; -1 when out of memory. */
int json_to_msgpack(const json_t *j, msgpack_object *out, msgpack_zone **zone);

#endif

/* rpc.h -- msgpack-RPC message shapes: validating a decoded message into rpc_msg_t, and
 * packing responses and notifications.
 *   request      [0, msgid:uint32, method:str|bin, params:array]
 *   notification [2, method:str|bin, params:array]
 *   response     [1, msgid, error:nil|{code, message, field?}, result]
 * params must be [] or [map]; the map holds the named fields.
 * Invariant: rpc_parse never allocates; pointers in rpc_msg_t borrow from the object. */
#ifndef PATRON_RPC_H
#define PATRON_RPC_H

#include <msgpack.h>
#include <stdint.h>

#include "base/perr.h"

#define RPC_REQUEST 0
#define RPC_RESPONSE 1
#define RPC_NOTIFICATION 2
#define RPC_METHOD_MAX 64 /* bytes in a method name */

typedef struct rpc_msg_s {
  int type;                      /* RPC_REQUEST or RPC_NOTIFICATION */
  uint32_t msgid;                /* requests only */
  int has_msgid;                 /* msgid could be read (also set on some errors) */
  const char *method;
  size_t method_len;
  const msgpack_object *params;  /* the named-field map, or NULL for none */
} rpc_msg_t;

/* Validate a decoded message. On error returns PERR_INVALID_REQUEST (or INVALID_PARAMS when
 * only the params shape is wrong) with m->has_msgid telling whether a reply can be sent. */
int rpc_parse(const msgpack_object *o, rpc_msg_t *m, perr_info_t *e);

/* [1, msgid, {code, message, field?}, nil] */
void rpc_pack_error(msgpack_packer *pk, uint32_t msgid, const perr_info_t *e);
/* [1, msgid, nil, -- the caller packs exactly one result object next */
void rpc_pack_result_head(msgpack_packer *pk, uint32_t msgid);
/* The same bytes as rpc_pack_result_head, written straight into sb (the daemon's output). */
void rpc_put_result_head(msgpack_sbuffer *sb, uint32_t msgid);
/* [2, method, [ -- the caller packs exactly one params object next */
void rpc_pack_notification_head(msgpack_packer *pk, const char *method);

/* A map whose header counts the fields actually written, so an encoder cannot miscount:
 *   PK_MAP(pk) { pk_kv_int(pk, "a", 1); if (x) pk_kv_str(pk, "b", s); }
 * packs the fields, then counts the complete elements written since the block began
 * (protocol/mpframe.c) and inserts the smallest map header before them, exactly the bytes
 * msgpack_pack_map(pk, n) would have written. The packer must write into a msgpack_sbuffer
 * (msgpack_packer_init(pk, &sbuffer, msgpack_sbuffer_write)). Never leave the block with return, goto or
 * break: the header would be missing. */
typedef struct pk_map_s {
  size_t start; /* offset of the first field in the sbuffer */
  int open;
} pk_map_t;
pk_map_t pk_map_begin(msgpack_packer *pk);
void pk_map_end(msgpack_packer *pk, pk_map_t *m);
#define PK_MAP_CAT_(a, b) a##b
#define PK_MAP_VAR_(line) PK_MAP_CAT_(pk_map_at_, line)
#define PK_MAP(pk)                                                                    \
  for (pk_map_t PK_MAP_VAR_(__LINE__) = pk_map_begin(pk); PK_MAP_VAR_(__LINE__).open; \
       pk_map_end((pk), &PK_MAP_VAR_(__LINE__)))

/* Packing shorthands for result maps. A NULL C string packs as "". */
void pk_str(msgpack_packer *pk, const char *s);
void pk_strn(msgpack_packer *pk, const char *s, size_t n);
void pk_kv_str(msgpack_packer *pk, const char *k, const char *s);
void pk_kv_strn(msgpack_packer *pk, const char *k, const char *s, size_t n);
void pk_kv_int(msgpack_packer *pk, const char *k, int64_t v);
void pk_kv_uint(msgpack_packer *pk, const char *k, uint64_t v);
void pk_kv_bool(msgpack_packer *pk, const char *k, int v);
void pk_kv_double(msgpack_packer *pk, const char *k, double v);
void pk_kv_nil(msgpack_packer *pk, const char *k);

#endif

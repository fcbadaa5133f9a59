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
/* [2, method, [ -- the caller packs exactly one params object next */
void rpc_pack_notification_head(msgpack_packer *pk, const char *method);

/* Packing shorthands for result maps. */
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

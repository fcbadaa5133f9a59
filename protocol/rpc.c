/* rpc.c -- see rpc.h. Checks run in the order of the message's fields so that the first
 * problem is the one reported. */
#include "rpc.h"

#include <stdlib.h>
#include <string.h>

#include "mpframe.h"

int rpc_parse(const msgpack_object *o, rpc_msg_t *m, perr_info_t *e) {
  memset(m, 0, sizeof *m);
  if (o->type != MSGPACK_OBJECT_ARRAY)
    return perr_set(e, PERR_INVALID_REQUEST, NULL, "message must be an array");
  const msgpack_object_array *a = &o->via.array;
  if (a->size != 3 && a->size != 4)
    return perr_set(e, PERR_INVALID_REQUEST, NULL, "message must have 3 or 4 elements");
  if (a->ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
    return perr_set(e, PERR_INVALID_REQUEST, NULL, "message type must be an integer");
  uint64_t type = a->ptr[0].via.u64;
  size_t mi;
  if (type == RPC_REQUEST) {
    if (a->size != 4) return perr_set(e, PERR_INVALID_REQUEST, NULL, "a request has 4 elements");
    if (a->ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a->ptr[1].via.u64 > UINT32_MAX)
      return perr_set(e, PERR_INVALID_REQUEST, NULL, "msgid must be an unsigned 32-bit integer");
    m->msgid = (uint32_t)a->ptr[1].via.u64;
    m->has_msgid = 1;
    mi = 2;
  } else if (type == RPC_NOTIFICATION) {
    if (a->size != 3)
      return perr_set(e, PERR_INVALID_REQUEST, NULL, "a notification has 3 elements");
    mi = 1;
  } else {
    if (type == RPC_RESPONSE && a->size == 4 && a->ptr[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
        a->ptr[1].via.u64 <= UINT32_MAX) {
      m->msgid = (uint32_t)a->ptr[1].via.u64;
      m->has_msgid = 1;
    }
    return perr_set(e, PERR_INVALID_REQUEST, NULL, "message type must be 0 (request) or 2 (notification)");
  }
  m->type = (int)type;
  const msgpack_object *meth = &a->ptr[mi];
  if (meth->type == MSGPACK_OBJECT_STR) {
    m->method = meth->via.str.ptr;
    m->method_len = meth->via.str.size;
  } else if (meth->type == MSGPACK_OBJECT_BIN) {
    m->method = meth->via.bin.ptr;
    m->method_len = meth->via.bin.size;
  } else {
    return perr_set(e, PERR_INVALID_REQUEST, NULL, "method must be a string");
  }
  if (m->method_len == 0 || m->method_len > RPC_METHOD_MAX)
    return perr_set(e, PERR_INVALID_REQUEST, NULL, "method name must be 1 to %d bytes", RPC_METHOD_MAX);
  const msgpack_object *p = &a->ptr[mi + 1];
  if (p->type != MSGPACK_OBJECT_ARRAY)
    return perr_set(e, PERR_INVALID_REQUEST, "params", "params must be an array");
  if (p->via.array.size > 1)
    return perr_set(e, PERR_INVALID_PARAMS, "params", "params must be [] or [map of named fields]");
  if (p->via.array.size == 1) {
    const msgpack_object *map = &p->via.array.ptr[0];
    if (map->type != MSGPACK_OBJECT_MAP && map->type != MSGPACK_OBJECT_NIL)
      return perr_set(e, PERR_INVALID_PARAMS, "params", "params must be [] or [map of named fields]");
    if (map->type == MSGPACK_OBJECT_MAP) m->params = map;
  }
  return 0;
}

pk_map_t pk_map_begin(msgpack_packer *pk) {
  /* (msgpack_sbuffer_write is static inline: its address differs per file, so the packer's
   * callback cannot be checked here; every packer that reaches an encoder is an sbuffer's) */
  return (pk_map_t){((const msgpack_sbuffer *)pk->data)->size, 1};
}

void pk_map_end(msgpack_packer *pk, pk_map_t *m) {
  msgpack_sbuffer *sb = pk->data;
  size_t body = sb->size - m->start;
  size_t elems = mpframe_count((const uint8_t *)sb->data + m->start, body);
  uint32_t n = (uint32_t)(elems / 2);
  unsigned char h[5];
  size_t hl;
  m->open = 0;
  if (elems % 2) abort(); /* a key without a value: a programming error */
  if (n < 16) {
    h[0] = (unsigned char)(0x80 | n);
    hl = 1;
  } else if (n < 65536) {
    h[0] = 0xde;
    h[1] = (unsigned char)(n >> 8);
    h[2] = (unsigned char)n;
    hl = 3;
  } else {
    h[0] = 0xdf;
    for (int i = 0; i < 4; i++) h[1 + i] = (unsigned char)(n >> (24 - 8 * i));
    hl = 5;
  }
  /* grow by the header, then slide the fields after it */
  if (msgpack_sbuffer_write(sb, (const char *)h, hl)) return;
  memmove(sb->data + m->start + hl, sb->data + m->start, body);
  memcpy(sb->data + m->start, h, hl);
}

void pk_strn(msgpack_packer *pk, const char *s, size_t n) {
  msgpack_pack_str(pk, n);
  msgpack_pack_str_body(pk, s, n);
}
void pk_str(msgpack_packer *pk, const char *s) { pk_strn(pk, s ? s : "", s ? strlen(s) : 0); }
void pk_kv_str(msgpack_packer *pk, const char *k, const char *s) { pk_str(pk, k); pk_str(pk, s); }
void pk_kv_strn(msgpack_packer *pk, const char *k, const char *s, size_t n) {
  pk_str(pk, k);
  pk_strn(pk, s, n);
}
void pk_kv_int(msgpack_packer *pk, const char *k, int64_t v) { pk_str(pk, k); msgpack_pack_int64(pk, v); }
void pk_kv_uint(msgpack_packer *pk, const char *k, uint64_t v) { pk_str(pk, k); msgpack_pack_uint64(pk, v); }
void pk_kv_bool(msgpack_packer *pk, const char *k, int v) {
  pk_str(pk, k);
  if (v) msgpack_pack_true(pk); else msgpack_pack_false(pk);
}
void pk_kv_double(msgpack_packer *pk, const char *k, double v) { pk_str(pk, k); msgpack_pack_double(pk, v); }
void pk_kv_nil(msgpack_packer *pk, const char *k) { pk_str(pk, k); msgpack_pack_nil(pk); }

void rpc_pack_error(msgpack_packer *pk, uint32_t msgid, const perr_info_t *e) {
  msgpack_pack_array(pk, 4);
  msgpack_pack_uint8(pk, RPC_RESPONSE);
  msgpack_pack_uint32(pk, msgid);
  PK_MAP(pk) {
    pk_kv_str(pk, "code", perr_name(e->code));
    pk_kv_str(pk, "message", e->message[0] ? e->message : perr_message(e->code));
    if (e->field[0]) pk_kv_str(pk, "field", e->field);
  }
  msgpack_pack_nil(pk);
}

/* The head [1, msgid, nil, as one run of 4-8 bytes: the msgid in its shortest unsigned form,
 * as msgpack-c's packer writes it. Returns the length. */
static size_t result_head(unsigned char h[8], uint32_t msgid) {
  size_t n = 2;
  h[0] = 0x94, h[1] = RPC_RESPONSE;
  if (msgid < 0x80) {
    h[n++] = (unsigned char)msgid;
  } else if (msgid <= 0xff) {
    h[n++] = 0xcc;
    h[n++] = (unsigned char)msgid;
  } else if (msgid <= 0xffff) {
    h[n++] = 0xcd;
    h[n++] = (unsigned char)(msgid >> 8);
    h[n++] = (unsigned char)msgid;
  } else {
    h[n++] = 0xce;
    for (int i = 3; i >= 0; i--) h[n++] = (unsigned char)(msgid >> (8 * i));
  }
  h[n++] = 0xc0; /* error: nil */
  return n;
}

/* One callback instead of four. */
void rpc_pack_result_head(msgpack_packer *pk, uint32_t msgid) {
  unsigned char h[8];
  size_t n = result_head(h, msgid);
  pk->callback(pk->data, (const char *)h, n);
}

/* With 8 bytes of room: one 8-byte store (the bytes past n are overwritten by what follows). */
void rpc_put_result_head(msgpack_sbuffer *sb, uint32_t msgid) {
  unsigned char h[8];
  size_t n = result_head(h, msgid);
  if (sb->alloc - sb->size >= sizeof h) {
    memcpy(sb->data + sb->size, h, sizeof h);
    sb->size += n;
  } else {
    msgpack_sbuffer_write(sb, (const char *)h, n);
  }
}

void rpc_pack_notification_head(msgpack_packer *pk, const char *method) {
  msgpack_pack_array(pk, 3);
  msgpack_pack_uint8(pk, RPC_NOTIFICATION);
  pk_str(pk, method);
  msgpack_pack_array(pk, 1);
}

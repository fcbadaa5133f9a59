/* fuzz_stream.c -- libFuzzer target: the daemon's request path on an untrusted byte stream,
 * the way daemon/server.c's on_read drives it: guard (limits) -> msgpack-c unpacker ->
 * rpc_parse -> method lookup -> the method's decoder -> error encoding. The first input byte
 * picks how the stream is cut into reads (1..256 bytes, or all at once), so split headers,
 * split strings and messages spanning reads are covered. A write/slow method's decode takes
 * the unpacker's zone with it, as a job does. No daemon, no store: decoders only.
 * Invariant: the guard admits only what msgpack-c decodes (an undecodable admitted message
 * is a bug and aborts; see the one known exception below), and mpdecode (the daemon's fast
 * decoder) decodes exactly what msgpack-c decodes from the same bytes, or leaves it; the
 * one-walk request path (mpdecode_request_head/_params) takes only a first message the guard
 * accepts whole, with the same length, parsed as msgpack-c and rpc_parse parse it. */
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "methods.h"
#include "mpdecode.h"
#include "rpc.h"

static void reply_error(msgpack_sbuffer *out, uint32_t msgid, const perr_info_t *e) {
  msgpack_packer pk;
  msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
  rpc_pack_error(&pk, msgid, e);
}

static void dispatch(msgpack_unpacker *up, const msgpack_object *o, arena_t *a,
                     msgpack_sbuffer *out) {
  rpc_msg_t m;
  perr_info_t e;
  if (rpc_parse(o, &m, &e)) {
    if (m.has_msgid) reply_error(out, m.msgid, &e);
    return;
  }
  int mi = method_lookup(m.method, m.method_len);
  if (mi < 0) {
    perr_set(&e, PERR_UNKNOWN_METHOD, NULL, "unknown method '%.*s'", (int)m.method_len, m.method);
    reply_error(out, m.msgid, &e);
    return;
  }
  const method_desc_t *md = &method_table[mi];
  arena_reset(a);
  void *params = arena_alloc(a, md->params_size);
  if (!params) abort();
  if (md->decode(m.params, a, params, &e)) {
    reply_error(out, m.msgid, &e);
    return;
  }
  if (md->flags & (M_WRITE | M_SLOW)) {
    msgpack_zone *z = msgpack_unpacker_release_zone(up); /* the job would keep it */
    msgpack_zone_free(z);
  }
}

/* The one-walk path on the first message of p[0..n) against the guard and the general path. */
static void check_one_walk(const uint8_t *p, size_t n, const guard_limits_t *lim) {
  rpc_msg_t m, gm;
  msgpack_object params, o;
  msgpack_zone *z = msgpack_zone_new(4096), *rz = msgpack_zone_new(4096);
  if (!z || !rz) abort();
  size_t at = mpdecode_request_head(p, n, &m);
  long k = at ? mpdecode_request_params(p, n, at, lim, z, &params, &m) : 0;
  if (k > 0) {
    guard_t g;
    size_t good, off = 0;
    perr_info_t e;
    guard_init(&g, lim);
    if (guard_feed(&g, p, (size_t)k - 1, &good) != GUARD_OK || good != 0) abort();
    if (guard_feed(&g, p + k - 1, 1, &good) != GUARD_OK || good != 1 || !guard_idle(&g)) abort();
    msgpack_unpack_return r = msgpack_unpack((const char *)p, n, &off, rz, &o);
    if ((r != MSGPACK_UNPACK_SUCCESS && r != MSGPACK_UNPACK_EXTRA_BYTES) || off != (size_t)k) abort();
    if (rpc_parse(&o, &gm, &e) || gm.type != m.type || gm.msgid != m.msgid ||
        gm.method != m.method || gm.method_len != m.method_len ||
        (gm.params == NULL) != (m.params == NULL) || (m.params && !mpdecode_same(m.params, gm.params)))
      abort();
  }
  msgpack_zone_free(z);
  msgpack_zone_free(rz);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t chunk = data[0] == 0 ? size : data[0];
  data++, size--;
  guard_limits_t lim = {64 * 1024, 16, 10000};
  check_one_walk(data, size, &lim);
  guard_t g;
  guard_init(&g, &lim);
  msgpack_unpacker up;
  if (!msgpack_unpacker_init(&up, 4096)) return 0;
  msgpack_sbuffer out;
  msgpack_sbuffer_init(&out);
  arena_t a;
  arena_init(&a, 1u << 20);
  msgpack_zone *fz = msgpack_zone_new(4096);
  if (!fz) abort();
  size_t off = 0;
  while (off < size) {
    size_t n = size - off < chunk ? size - off : chunk;
    if (!msgpack_unpacker_reserve_buffer(&up, n)) break;
    memcpy(msgpack_unpacker_buffer(&up), data + off, n);
    off += n;
    size_t good_end;
    guard_status_t gs = guard_feed(&g, (const uint8_t *)msgpack_unpacker_buffer(&up), n, &good_end);
    msgpack_unpacker_buffer_consumed(&up, gs == GUARD_OK ? n : good_end);
    for (;;) {
      /* the daemon's fast decoder (server.c fast_next) on the same bytes, where it may run */
      long fast = 0;
      int ran = up.parsed == 0 && up.used > up.off;
      msgpack_object fo;
      size_t before = up.off;
      if (ran) fast = mpdecode_object((const uint8_t *)up.buffer + up.off, up.used - up.off, fz, &fo);
      int r = msgpack_unpacker_execute(&up);
      if (fast > 0) { /* mpdecode decoded: msgpack-c must decode the same, to the same end */
        if (r <= 0 || (size_t)fast != up.off - before) abort();
        msgpack_object ref = msgpack_unpacker_data(&up);
        if (!mpdecode_same(&fo, &ref)) abort();
      }
      if (ran && fast <= 0 && r > 0) abort(); /* msgpack-c decoded what mpdecode left */
      msgpack_zone_clear(fz);
      if (r > 0) {
        msgpack_object o = msgpack_unpacker_data(&up);
        msgpack_unpacker_reset(&up);
        dispatch(&up, &o, &a, &out);
        continue;
      }
      if (r < 0) {
        /* Only a header the guard has not finished reading may reach msgpack-c ahead of the
         * guard's verdict (e.g. ext32 announcing 0xffffffff bytes: msgpack-c's len+1 wraps
         * and it fails); the daemon then closes the connection ("undecodable message").
         * Anything else means the guard admitted bytes msgpack-c cannot decode. */
        if (g.hdr_need == 0) abort();
        goto closed;
      }
      break;
    }
    if (up.z && guard_idle(&g) && msgpack_unpacker_flush_zone(&up)) msgpack_unpacker_reset_zone(&up);
    if (gs != GUARD_OK) break; /* the connection would be closed */
  }
closed:
  msgpack_zone_free(fz);
  arena_free(&a);
  msgpack_sbuffer_destroy(&out);
  msgpack_unpacker_destroy(&up);
  return 0;
}

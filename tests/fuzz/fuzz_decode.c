/* fuzz_decode.c -- libFuzzer target: every method's params decoder (method_table[i].decode)
 * on an arbitrary msgpack object. Input: one byte choosing the method (mod METHOD__COUNT),
 * then msgpack bytes decoded with msgpack_unpack_next (depth capped like the guard's). Every
 * decoder must either fill its params struct or return a structured error with a message;
 * success and failure both leave the arena consistent. The error is encoded as a reply too.
 * A method's raw decoder, when it has one, reads the same bytes: what it takes, the table
 * decoder (and offers.decide's map reader) takes too. */
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "methods.h"
#include "rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  int mi = data[0] % METHOD__COUNT;
  data++, size--;
  /* the daemon only decodes what the guard admitted: same limits, one message, wrapped as
   * [0, 1, "", [params]] so that the guard counts the depth the daemon would see */
  static const uint8_t head[5] = {0x94, 0x00, 0x01, 0xa0, 0x91};
  guard_limits_t lim = {64 * 1024, 16, 10000};
  guard_t g;
  guard_init(&g, &lim);
  size_t good_end;
  uint8_t *buf = malloc(size + 5);
  if (!buf) return 0;
  memcpy(buf, head, 5);
  memcpy(buf + 5, data, size);
  if (guard_feed(&g, buf, size + 5, &good_end) != GUARD_OK || good_end == 0) {
    free(buf);
    return 0;
  }
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  if (msgpack_unpack_next(&u, (const char *)buf, good_end, &off) == MSGPACK_UNPACK_SUCCESS) {
    const msgpack_object *p = &u.data.via.array.ptr[3].via.array.ptr[0];
    const method_desc_t *md = &method_table[mi];
    arena_t a;
    arena_init(&a, 1u << 20);
    void *params = arena_alloc(&a, md->params_size);
    perr_info_t e;
    memset(&e, 0, sizeof e);
    /* a raw decoder (methods.def's raw column) on the same bytes: what it takes is the
     * whole params map of the first message (off: msgpack-c's end of it; the guard's
     * good_end may take in further whole messages, as the daemon's buffer may hold them),
     * and the object path accepts it too */
    size_t raw_k = 0;
    void *raw_params = md->decode_raw ? arena_alloc(&a, md->params_size) : NULL;
    if (raw_params) {
      mpraw_limits_t rl = {lim.max_depth - 2, lim.max_elems};
      raw_k = md->decode_raw(buf + 5, good_end - 5, &rl, &a, raw_params);
      if (raw_k && raw_k != off - 5) abort();
    }
    if (params) {
      int rc = md->decode(p->type == MSGPACK_OBJECT_MAP ? p : NULL, &a, params, &e);
      if (raw_k && rc) abort(); /* the raw decoder took params the table decoder refuses */
      if (raw_k && mi == METHOD_offers_decide) {
        offers_decide_req_t q;
        if (!offers_decide_read(&a, &((const offers_decide_params_t *)params)->raw.obj, &q))
          abort();
      }
      if (rc) {
        if (!e.message[0]) abort(); /* every error says what is wrong */
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        rpc_pack_error(&pk, 1, &e);
        msgpack_sbuffer_destroy(&sb);
      }
    }
    arena_free(&a);
  }
  msgpack_unpacked_destroy(&u);
  free(buf);
  return 0;
}

/* mpdecode.h -- a msgpack decoder for messages the guard (guard.h) already admitted, used by
 * the daemon for the requests it executes on the loop: it builds exactly the msgpack_object
 * tree msgpack-c's unpacker builds (the same types and values; str, bin and ext pointing into
 * the input; arrays and maps in the zone) at a fraction of its cost, and leaves anything it
 * does not take to msgpack-c. Not resumable: the object must be wholly in the input.
 * Invariant: the objects point into the input, so they live only while the input does (the
 * daemon uses it only for requests answered before the connection reads again).
 *
 * The request path (mpdecode_request_head + _params) is the guard and the decoder in one
 * walk: a whole message not yet scanned by the guard is decoded while the guard's limits
 * (guard.h: message bytes, depth, elements per container, the reserved byte) are checked.
 * Invariant: it takes a message only when guard_feed, fed the same bytes from an idle state,
 * would accept that message whole with the same length, and it gives what msgpack-c and
 * rpc_parse would give; for anything else (a split or longer message, a limit broken, a
 * form it does not know) it declines, and the guard and the general path decide (same
 * errors, same field paths). */
#ifndef PATRON_MPDECODE_H
#define PATRON_MPDECODE_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "guard.h"
#include "mpraw.h"
#include "rpc.h"

/* Decode one object from p[0..n) into *out, allocating from z. Returns the bytes it took,
 * 0 when the input ends inside the object, -1 on a reserved byte, nesting deeper than
 * MPFRAME_MAX_DEPTH or no memory. */
long mpdecode_object(const uint8_t *p, size_t n, msgpack_zone *z, msgpack_object *out);

/* The method name of the request or notification starting at p[0..n), read from its first
 * headers alone (fixarray of 4 or 3, type 0 or 2 as a fixint, a uint msgid, a str8 or
 * fixstr name). Returns 0 with *name and *len set, -1 for any other form. */
int mpdecode_method(const uint8_t *p, size_t n, const char **name, size_t *len);

/* The head of a request [0, msgid, method, params] or notification [2, method, params] at
 * p[0..n) in its common form (fixarray, a uint msgid of at most 32 bits, a fixstr or str8
 * name of 1..RPC_METHOD_MAX bytes): m's type, msgid, has_msgid, method and method_len set
 * (params NULL). Returns the offset of the params, 0 for any other form (rpc_parse decides). */
size_t mpdecode_request_head(const uint8_t *p, size_t n, rpc_msg_t *m);

/* The params at p[at..n) of the message whose head mpdecode_request_head read: [], [nil], or
 * [map] decoded into *params (m->params = params), the whole message checked against lim.
 * Returns the message's bytes, or 0: not taken (incomplete, longer than lim->max_message, a
 * limit broken, another params form, no memory); then guard_feed and rpc_parse decide. */
long mpdecode_request_params(const uint8_t *p, size_t n, size_t at, const guard_limits_t *lim,
                             msgpack_zone *z, msgpack_object *params, rpc_msg_t *m);

/* The raw column's path (methods.def, mpraw.h): the params at p[at..n) of the message whose
 * head mpdecode_request_head read, when they are [map], read by raw into out (its limits
 * mpdecode_request_params's: the message within lim->max_message, the map given room
 * lim->max_depth - 2 and lim->max_elems). Returns the message's bytes (m->params = NULL), or
 * 0: raw declined, or another form; then mpdecode_request_params or the guard decide.
 * Invariant: it takes a message only where mpdecode_request_params would take it whole with
 * the same length (raw reads only within the bound and checks the same limits). */
long mpdecode_request_raw(const uint8_t *p, size_t n, size_t at, const guard_limits_t *lim,
                          mpraw_decode_fn raw, struct arena_s *a, void *out, rpc_msg_t *m);

/* msgpack_object_equal, except that floats compare by their bits (a NaN equals itself):
 * what "the same object" means when checking mpdecode against msgpack-c. */
int mpdecode_same(const msgpack_object *a, const msgpack_object *b);

#endif

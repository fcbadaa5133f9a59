/* mpdecode.h -- a msgpack decoder for messages the guard (guard.h) already admitted, used by
 * the daemon for the requests it executes on the loop: it builds exactly the msgpack_object
 * tree msgpack-c's unpacker builds (the same types and values; str, bin and ext pointing into
 * the input; arrays and maps in the zone) at a fraction of its cost, and leaves anything it
 * does not take to msgpack-c. Not resumable: the object must be wholly in the input.
 * Invariant: the objects point into the input, so they live only while the input does (the
 * daemon uses it only for requests answered before the connection reads again). */
#ifndef PATRON_MPDECODE_H
#define PATRON_MPDECODE_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

/* Decode one object from p[0..n) into *out, allocating from z. Returns the bytes it took,
 * 0 when the input ends inside the object, -1 on a reserved byte, nesting deeper than
 * MPFRAME_MAX_DEPTH or no memory. */
long mpdecode_object(const uint8_t *p, size_t n, msgpack_zone *z, msgpack_object *out);

/* The method name of the request or notification starting at p[0..n), read from its first
 * headers alone (fixarray of 4 or 3, type 0 or 2 as a fixint, a uint msgid, a str8 or
 * fixstr name). Returns 0 with *name and *len set, -1 for any other form. */
int mpdecode_method(const uint8_t *p, size_t n, const char **name, size_t *len);

/* msgpack_object_equal, except that floats compare by their bits (a NaN equals itself):
 * what "the same object" means when checking mpdecode against msgpack-c. */
int mpdecode_same(const msgpack_object *a, const msgpack_object *b);

#endif

/* readcache.h -- a bounded cache of encoded answers of hot read methods (customer.get,
 * product.get): the daemon keeps one on its loop thread so a repeated checkout read costs a
 * hash lookup and a copy. An entry is the msgpack bytes of a result, keyed by (method, id).
 * Pure data structure: no I/O, no clock of its own, not thread-safe.
 * Invariants: memory stays within max_bytes (entries are evicted, never refused); an entry is
 * never returned after its expiry time. The daemon (daemon/server.c, rcache_after_write)
 * deletes the entries a committed write could change and clears all on a model install. */
#ifndef PATRON_READCACHE_H
#define PATRON_READCACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct rcache_s rcache_t;

rcache_t *rcache_new(size_t max_bytes, uint64_t ttl_ms);
void rcache_free(rcache_t *c);
void rcache_configure(rcache_t *c, size_t max_bytes, uint64_t ttl_ms);
/* 1 and the bytes if a fresh entry exists. The bytes stay valid until the next put/del/clear. */
int rcache_get(rcache_t *c, int method, const char *key, size_t klen, uint64_t now_ms,
               const char **val, size_t *vlen);
void rcache_put(rcache_t *c, int method, const char *key, size_t klen, const char *val,
                size_t vlen, uint64_t now_ms);
void rcache_del(rcache_t *c, int method, const char *key, size_t klen);
void rcache_clear(rcache_t *c);
/* Invalidate every entry at once, O(1): stale entries are dropped as they are met. */
void rcache_bump(rcache_t *c);

typedef struct rcache_stats_s { uint64_t hits, misses, entries, bytes, evictions; } rcache_stats_t;
void rcache_stats(const rcache_t *c, rcache_stats_t *out);

#endif

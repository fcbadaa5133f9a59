/* feed.h -- the change-feed thread of a shared store (feed.c). */
#ifndef PATRON_FEED_H
#define PATRON_FEED_H

#include <stdint.h>

#include "store/store.h"

typedef struct feed_s feed_t;
struct daemon_s;

/* Loop thread, after other nodes' writes reached the local copy: tables = a bit
 * (1 << store_table_t) per table they changed. */
typedef void (*feed_remote_fn)(struct daemon_s *d, uint64_t tables);
/* Start the feed thread if the store is shared (NULL otherwise, or out of memory): it applies
 * other nodes' writes to the local copy, drops the read caches after them and calls
 * on_remote (may be NULL). Loop thread. */
feed_t *feed_start(struct daemon_s *d, store_t *store, uint64_t poll_ms, feed_remote_fn on_remote);
/* Stop and join it (NULL: nothing); the async handle closes on the next loop run. */
void feed_stop(feed_t *f);

#endif

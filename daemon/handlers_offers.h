/* handlers_offers.h -- the offers wiring's lifecycle (handlers_offers.c): the catalogue
 * snapshot and the token key ring. Loop thread only. */
#ifndef PATRON_HANDLERS_OFFERS_H
#define PATRON_HANDLERS_OFFERS_H

#include "daemon.h"

/* Open the key ring (offers_keys.c: the data directory's file, or the shared store's record;
 * created at first start); build the catalogue. */
int offers_wire_init(daemon_t *d, perr_info_t *e);
void offers_wire_destroy(daemon_t *d);
/* After a committed write: rebuild the catalogue when the write changed it. */
void offers_wire_after_write(daemon_t *d, wjob_t *job);
/* Another node's writes reached the local copy: install the fleet's key ring if it changed
 * (shared store; nothing otherwise). */
void offers_wire_follow_keys(daemon_t *d);
/* Rebuild the catalogue from the store (another node changed the offers: shared store). */
void offers_wire_reload(daemon_t *d);

#endif

/* handlers_offers.h -- the offers wiring's lifecycle (handlers_offers.c): the catalogue
 * snapshot and the token key ring. Loop thread only. */
#ifndef PATRON_HANDLERS_OFFERS_H
#define PATRON_HANDLERS_OFFERS_H

#include "daemon.h"

/* Open (create at first start) the key ring in the data directory; build the catalogue. */
int offers_wire_init(daemon_t *d, perr_info_t *e);
void offers_wire_destroy(daemon_t *d);
/* After a committed write: rebuild the catalogue when the write changed it. */
void offers_wire_after_write(daemon_t *d, wjob_t *job);
/* Rebuild the catalogue from the store (another node changed the offers: shared store). */
void offers_wire_reload(daemon_t *d);

#endif

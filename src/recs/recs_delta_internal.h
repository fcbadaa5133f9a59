/* recs_delta_internal.h -- what the scorer needs from the delta (recs_delta.c).
 * Invariant: these functions are safe to call concurrently with recs_delta_add_basket. */
#ifndef PATRON_RECS_DELTA_INTERNAL_H
#define PATRON_RECS_DELTA_INTERNAL_H

#include "recs_internal.h"

/* 1 if id names a snapshot or delta item (d may be NULL: then 0). */
int recs_delta_known(const recs_delta_t *d, uint32_t id);
/* 1 while the delta holds no pair (no lock: an atomic count). */
int recs_delta_empty(const recs_delta_t *d);
/* Calls add(ctx, j, w * c'_ij / sqrt(N_i N_j)) for every delta pair (i, j); 0 if add failed. */
int recs_delta_accumulate(const recs_delta_t *d, uint32_t i, float w,
                          int (*add)(void *ctx, uint32_t j, float v), void *ctx);

#endif

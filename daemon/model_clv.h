/* model_clv.h -- the CLV/segments model kind's accessors for handlers (loop thread only):
 * the installed snapshot. A handler reads the pointer once and uses only that snapshot, so
 * it sees one model version. */
#ifndef PATRON_MODEL_CLV_H
#define PATRON_MODEL_CLV_H

#include "clv/clv_snapshot.h"
#include "daemon.h"
#include "models.h"

extern const model_kind_t model_kind_clv;

/* The installed snapshot, or NULL (no model yet). Loop thread. */
const clv_snap_t *clv_model_current(daemon_t *d);

#endif

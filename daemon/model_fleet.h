/* model_fleet.h -- one node of a fleet builds the models (model_fleet.c; docs/SCALEOUT.md
 * section 7): the model-leader thread of a shared store. */
#ifndef PATRON_MODEL_FLEET_H
#define PATRON_MODEL_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "daemon.h"

typedef struct model_fleet_s model_fleet_t;

/* Loop thread, after models_init: start the model-leader thread of a shared store (NULL on
 * an embedded store, or when it cannot start: logged). A follower tries the leader lock every
 * poll_ms. */
model_fleet_t *model_fleet_start(daemon_t *d, uint64_t poll_ms);
/* Stop and join the thread (its session ends: a leader's lock goes with it), then drop what it
 * loaded for the loop. NULL: nothing. The async handle closes on the next loop run. */
void model_fleet_stop(model_fleet_t *f);
/* The models' hooks (models_hooks_t): publish what the leader built (loop thread; takes
 * bytes) and the leader's node name (any thread). */
void model_fleet_publish(daemon_t *d, size_t kind, uint64_t version, unsigned char *bytes,
                         size_t n, uint64_t mark);
/* The build marks (models_hooks_t build_started / build_ended): the worker waits until the
 * model-leader thread has marked kind's build as started in the database (its next round:
 * bounded by the database timeouts) and gets the mark's number (0: not marked); the loop
 * reports a marked build that ended unpublished, and the thread clears its mark. */
uint64_t model_fleet_build_started(daemon_t *d, size_t kind);
void model_fleet_build_ended(daemon_t *d, size_t kind, uint64_t mark);
void model_fleet_leader_name(daemon_t *d, char *buf, size_t len);
/* What health, stats and the metrics report (shared = 0 without a fleet). Loop thread. */
void model_fleet_view(daemon_t *d, model_fleet_view_t *out);

#endif

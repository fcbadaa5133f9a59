/* analytics_types.h -- the wire side of the customer-analytics methods (issue 3):
 * customer.get's analytics fields, kpi.report, segment.list, segment.customers,
 * feedback.record, customer.merge, customer.subscribe, model.params. Included by methods.h.
 * The result structs are the core's (analytics/analytics_types.h, clv/clv_snapshot.h); this
 * header adds the wire-only params and the encoders that need msgpack.
 * Invariant: plain structs; strings point into the request's zone / the job's arena / static
 * storage, never into a store transaction or a model that may be swapped before encoding. */
#ifndef PATRON_PROTOCOL_ANALYTICS_TYPES_H
#define PATRON_PROTOCOL_ANALYTICS_TYPES_H

#include <msgpack.h>
#include <stdint.h>

#include "analytics/analytics_types.h"
#include "clv/clv_snapshot.h"
#include "commerce/feedback.h"
#include "commerce/merge.h"
#include "commerce/privacy.h"

/* Packs the key/value pairs of customer.get's analytics into the open map (PK_MAP). */
void enc_customer_analytics(msgpack_packer *pk, const cust_analytics_t *a);

/* ---- customer.subscribe ---- */
typedef struct subscribe_params_s { int subscribed; } subscribe_params_t;
typedef struct subscribe_result_s { int subscribed; } subscribe_result_t;

/* ---- customer.changed notification ---- */
void enc_customer_changed(msgpack_packer *pk, const void *change);

#endif

/* methods.h -- the method table's C side: per-method param/result types that are not core
 * types, the method descriptor, and lookup by wire name. The rows are in methods.def.
 * Invariant: method ids are dense 0..METHOD__COUNT-1 in methods.def order. */
#ifndef PATRON_METHODS_H
#define PATRON_METHODS_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "commerce/commerce.h"
#include "base/perr.h"
#include "mpraw.h"
#include "recs/recs_types.h"

/* flags column */
#define M_WRITE 1u
#define M_ADMIN 2u
#define M_SLOW 4u /* runs on the worker thread (reports, refits), answered when done */
/* derived from the cache column (methods.c sets them; never written in methods.def) */
#define M_CACHED 8u        /* answers cached by an id (cache_kind is a KEY_*) */
#define M_CACHED_QUERY 16u /* answers cached by the whole params map */

/* cache column: the kind of key the answers are cached under */
typedef enum {
  CACHE_NONE = 0,
  CACHE_QUERY = 1,  /* the request's whole params map */
  KEY_PRODUCT = 2,  /* a product id */
  KEY_CUSTOMER = 3, /* a customer id */
} cache_kind_t;
#define CACHE_KIND_NOCACHE CACHE_NONE
#define CACHE_KIND_BY_QUERY CACHE_QUERY
#define CACHE_KIND_BY_PRODUCT_ID KEY_PRODUCT
#define CACHE_KIND_BY_CUSTOMER_ID KEY_CUSTOMER

/* data column: what a write changes / what a cached read's answer depends on */
#define D_NONE 0u
#define D_PRODUCTS 1u
#define D_CUSTOMERS 2u /* profiles (customer.upsert) */
#define D_ORDERS 4u    /* orders and refunds */
#define D_FEEDBACK 8u
#define D_LOYALTY 16u  /* the loyalty program, ledger and tiers */
#define D_OFFERS 32u   /* offer catalogue, redemptions, experiment events (issue 9) */

/* Which thread runs a method: derived from the flags column. */
typedef enum { RUN_ON_LOOP = 0, RUN_ON_WRITER = 1, RUN_ON_WORKER = 2 } method_thread_t;

typedef enum {
#define XX(id, name, pt, rt, flags, cache, data, affects, raw, summary) METHOD_##id,
#include "methods.def"
#undef XX
  METHOD__COUNT
} method_id_t;

typedef struct empty_params_s { int unused; } empty_params_t;
typedef struct id_params_s { pstr_t id; } id_params_t;

typedef struct ping_result_s { int64_t time; } ping_result_t;

/* A fleet's model leader (docs/SCALEOUT.md section 7), in health and stats: shared = 0 (an
 * embedded store, one node) sends nothing. */
#define MODEL_FLEET_KINDS_MAX 8
typedef struct model_fleet_view_s {
  int shared;
  int leader;                 /* this node builds the models and publishes them */
  int connected;              /* the election's database connection is up */
  char leader_name[96];       /* the model leader's node name ("" = none or unknown) */
  uint64_t poll_ms;           /* a follower tries the lock this often (the failover bound) */
  uint64_t takeovers, published, loaded, failures;
  size_t n;
  struct {
    const char *name;
    uint64_t version;         /* the snapshot loaded from or published to the fleet (0 = none) */
    char checksum[65];        /* its SHA-256, hex */
  } snap[MODEL_FLEET_KINDS_MAX];
} model_fleet_view_t;

typedef struct health_result_s {
  int ok;               /* store readable and writer alive */
  const char *status;   /* "ok", "degraded", "stopping" */
  int64_t uptime_s;
  uint64_t write_queue;
  const char *version;
  const char *reason;   /* why degraded (e.g. "disk full: ..."), NULL when ok */
  int shared;           /* PostgreSQL backend: the two below are sent */
  int stale;            /* the local copy may miss other nodes' writes (feed not caught up) */
  uint64_t staleness_ms; /* since the local copy last held every committed write */
  char reason_buf[200];
  model_fleet_view_t model_fleet;
} health_result_t;

typedef struct method_counters_s { uint64_t calls, errors; } method_counters_t;

typedef struct stats_result_s {
  const char *version;
  int64_t uptime_s;
  uint64_t conns_current, conns_total, conns_rejected, conns_closed_limit;
  uint64_t conns_evicted_idle, conns_closed_write_timeout, conns_closed_memory;
  uint64_t conns_tls_refused; /* TLS handshakes refused (certificate, version, not TLS) */
  uint64_t protocol_errors, requests, errors;
  uint64_t bytes_in, bytes_out;
  uint64_t writes_committed, write_batches, write_failures, write_queue;
  uint64_t rss_bytes, peak_rss_bytes, store_bytes;
  const char *store_backend; /* "lmdb", "postgresql" (NULL: not sent) */
  store_feed_stats_t feed;   /* feed.shared = 0: not sent */
  uint64_t feed_staleness_ms;
  model_fleet_view_t model_fleet;
  uint64_t cache_hits, cache_misses, cache_entries, cache_bytes, cache_evictions;
  core_counts_t counts;
  method_counters_t by_method[METHOD__COUNT];
} stats_result_t;

typedef struct upsert_result_s { pstr_t id; int64_t updated_at; } upsert_result_t;

typedef struct order_view_s { order_t order; int64_t refunded; } order_view_t;

/* model.status / model.refit */
typedef struct model_info_s {
  const char *status;     /* "ready", "empty", "building", "insufficient_data", ... */
  char reason[160];       /* why not ready, or "" */
  uint64_t version;       /* increments on every install; 0 = none yet */
  int64_t built_at;       /* seconds */
  uint64_t build_ms;      /* how long the last build took */
  uint64_t items;         /* customers scored, items in the graph, ... */
  uint64_t bytes;         /* memory held by the served model */
} model_info_t;
typedef struct model_status_entry_s {
  const char *name;
  model_info_t info;
  uint64_t took_ms;       /* model.refit: this build */
} model_status_entry_t;
#define MODELS_MAX 8
typedef struct refit_params_s {
  pstr_t *names; size_t n; unsigned mask;
  int64_t as_of;          /* the CLV model's "now" (0 = the current time), seconds */
} refit_params_t;
typedef struct refit_result_s {
  size_t n;
  model_status_entry_t models[MODELS_MAX];
  unsigned mask;          /* kinds this refit built */
  void *opaque;           /* the built models, between the worker and the loop */
} refit_result_t;

#include "analytics_types.h" /* customer analytics (issue 3) */
#include "loyalty_types.h"   /* loyalty (issue 8) */
/* The loyalty fields of customer.get, written into its map (codec_loyalty.c). */
void enc_customer_loyalty(msgpack_packer *pk, const cust_loyalty_t *l);
/* One loyalty.expiring member: also the loyalty.points_expiring notification's params. */
void enc_loyalty_expiring_item(msgpack_packer *pk, const loy_expiring_item_t *it);
#include "offers_types.h"    /* offers and experiments (issue 9) */

typedef int (*method_decode_fn)(const msgpack_object *params, arena_t *a, void *out,
                                perr_info_t *e);
typedef void (*method_encode_fn)(msgpack_packer *pk, const void *result);
/* The raw column (methods.def): a decoder of the params map straight from the request bytes,
 * for its simple shape only. p[0..n) starts at the map (the params' single element) and ends
 * where the message may end at most (limits.max_message); lim: how deep the map may nest
 * (mpraw.h) and how many elements a container may hold. It writes *out exactly as `decode`
 * would for the same params and returns the map's bytes, or 0 (*out then undefined): not
 * the simple shape, a limit broken, anything invalid or unusual; the object path then
 * decodes the request as if this decoder did not exist (same answers, same errors).
 * Strings borrow from p (the request is answered before the input buffer moves). */
typedef mpraw_decode_fn method_decode_raw_fn;
#define NO_RAW NULL
/* The raw decoders of methods.def's raw column. */
size_t raw_recs_cart(const uint8_t *p, size_t n, const mpraw_limits_t *lim, arena_t *a,
                     void *out);
size_t raw_offers_decide(const uint8_t *p, size_t n, const mpraw_limits_t *lim, arena_t *a,
                         void *out);

/* The affects column: a write's committed params and result -> the ids of kind (a KEY_*)
 * whose cached answers it may have changed, at most METHOD_AFFECTS_MAX into ids. Returns
 * how many, or -1 when it cannot say (then every answer of that kind is dropped). */
#define METHOD_AFFECTS_MAX 4
typedef int (*method_affects_fn)(const void *params, const void *result, cache_kind_t kind,
                                 pstr_t ids[METHOD_AFFECTS_MAX]);
/* The cache key of a params struct of a method cached by id (derived from the cache column
 * and the params type, which must be id_params_t). */
typedef pstr_t (*method_key_fn)(const void *params);
/* The affects function of a write that may change any customer's answers (a program change,
 * a pass over every member): always -1, so every answer of every kind it meets is dropped. */
int method_affects_all(const void *params, const void *result, cache_kind_t kind,
                       pstr_t ids[METHOD_AFFECTS_MAX]);
/* The same for a loyalty pass chunk (loy_pass_result_t), but none when it wrote nothing. */
int method_affects_pass(const void *params, const void *result, cache_kind_t kind,
                        pstr_t ids[METHOD_AFFECTS_MAX]);

typedef struct method_desc_s {
  const char *name;
  size_t name_len;
  unsigned flags;            /* the flags column, plus M_CACHED / M_CACHED_QUERY */
  method_thread_t thread;
  cache_kind_t cache;
  unsigned data;             /* D_* */
  method_key_fn cache_key;   /* non-NULL when cache is a KEY_* */
  method_affects_fn affects; /* non-NULL for every write */
  size_t params_size, result_size;
  method_decode_fn decode;
  method_encode_fn encode;
  method_decode_raw_fn decode_raw; /* the raw column: NULL (NO_RAW) for most */
  const char *summary;
  const char *params_type;   /* the type names, for tests and messages */
  const char *result_type;
} method_desc_t;

extern const method_desc_t method_table[METHOD__COUNT];

/* Index of the method, or -1. */
int method_lookup(const char *name, size_t len);

/* Typed views of a committed write, derived from the table (data column and params type),
 * for code that follows writes (the recs model) without naming methods: the order a write
 * recorded (its result is an order_result_t) / the product it upserted, or NULL when the method is not such a write. */
const order_t *method_recorded_order(int method, const void *params);
const product_t *method_upserted_product(int method, const void *params);

/* Declarations of every decoder, encoder and affects function. */
#define XX(id, name, pt, rt, flags, cache, data, affects, raw, summary)                     \
  int dec_##id(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e); \
  void enc_##id(msgpack_packer *pk, const void *result);
#include "methods.def"
#undef XX

#endif

/* model_recs.h -- the recommendations model kind's state, shared by model_recs.c (lifecycle:
 * load, background build, persist, install, incremental updates), recs_catalog.c (the
 * in-memory product catalogue the business filters read) and handlers_recs.c (the
 * recs.* methods).
 * Threads: everything here belongs to the loop thread except (a) the holder (internally
 * locked; the worker acquires the previous snapshot to keep ids stable), (b) the replay log
 * (log_mu) and (c) version (atomic), which the worker reads.
 * Invariants: snap is the holder's current snapshot and delta is based on it; every catalogue
 * product has an item id in snap + delta (cat[p].item) and item2p maps it back; a request
 * sees one snapshot + delta pair from start to end (both only change on the loop thread). */
#ifndef PATRON_MODEL_RECS_H
#define PATRON_MODEL_RECS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "daemon.h"
#include "models.h"
#include "recs/recs.h"

extern const model_kind_t model_kind_recs;

#define RECS_CAT_HIDDEN (RECS_NO_CATEGORY - 1u) /* inactive products: always excluded */
#define RECS_NONE UINT32_MAX
#define RECS_DELTA_MAX_PAIRS 2000000u
#define RECS_LOG_MAX_BYTES (256u << 20)

typedef struct recs_centry_s {
  uint32_t item;              /* id in snap + delta */
  uint32_t category;          /* RECS_NO_CATEGORY when none */
  uint32_t currency;          /* ISO code packed in 3 bytes; 0 = none */
  uint32_t cat_prev, cat_next;/* members of the same category (RECS_NONE ends) */
  int64_t price, margin;      /* RECS_PRICE_UNKNOWN when not given */
  int64_t stock;              /* -1 = not tracked, 0 = out of stock */
  uint8_t active;
} recs_centry_t;

typedef struct recs_state_s {
  daemon_t *d;
  recs_config_t mcfg;         /* model configuration ([recs] similarity) */
  int cosine;                 /* 1: plain-cosine baseline (no repurchase term) */
  recs_holder_t *holder;
  recs_snapshot_t *snap;
  recs_delta_t *delta;
  uint32_t nsnap;             /* items in snap: ids below are the snapshot's */
  atomic_uint_fast64_t version; /* installed model; 0 = none built yet */
  int64_t built_at;
  uint64_t build_ms, bytes;
  int rebuild_queued;         /* a rebuild was requested because the delta is full */
  /* incremental budget (loop thread): pair updates the delta may still take, refilled at
   * models.recs_delta_pairs_per_s; an order past it is skipped (skipped_seq counts them, the
   * worker reads it when a build starts) and a rebuild folds it in once writes pause */
  double delta_tokens;
  uint64_t delta_tokens_ms, skipped_last_ms;
  atomic_uint_fast64_t skipped_seq;
  uint64_t skipped_folded;    /* skipped_seq as the installed model's build began */
  char reason[160];
  /* catalogue */
  recs_interner_t *products;  /* product id -> index into cat */
  recs_centry_t *cat;
  uint32_t ncat, capcat;
  uint32_t *item2p;           /* item id -> catalogue index, RECS_NONE */
  uint32_t nitem2p;
  recs_interner_t *categories;/* category name -> id */
  uint32_t *cat_head;         /* per category: first member, RECS_NONE */
  uint8_t *cat_consumable;
  uint32_t capcats;
  /* the same catalogue as the core's arrays by item id (recs_catalog_arrays), kept in step
   * with cat and item2p: items without a product hold the no-data values */
  uint64_t *a_stock, *a_cons;  /* bit per item: stock != 0; consumable category */
  uint32_t *a_category;        /* the category, RECS_CAT_HIDDEN when inactive */
  int64_t *a_price, *a_margin;
  uint32_t na;                 /* items covered (a multiple of 64) */
  int a_ok;                    /* 0 after an allocation failure: requests use the callback */
  char consumable_csv[512];   /* the setting the flags were computed from */
  char path[CONFIG_PATH_MAX + 32]; /* models/recs.snap: fixed at init */
  /* request scratch (loop thread; grown once, reused: no malloc per request) */
  recs_scratch_t *scratch;
  uint32_t *ids;              /* cart, exclusions, candidates */
  size_t ids_cap;
  uint32_t *hist;             /* history: one entry per order holding the item */
  int64_t *hist_ts;           /* the time of that order (parallel to hist) */
  size_t nhist, hist_cap;
  pstr_t *hist_orders;
  size_t hist_orders_cap;
  recs_result_t out[RECS_WIRE_MAX_LIMIT];
  /* orders recorded while a build runs, replayed into the next delta unless the build saw
   * them: entries | u32 len | u8 seen | i64 ts | u16 order id len | id | u16 n | n x (u16, id) */
  pthread_mutex_t log_mu;
  int logging, log_overflow;
  unsigned char *log;
  size_t log_n, log_cap;
} recs_state_t;


recs_state_t *recs_state(daemon_t *d);

/* recs_catalog.c */
int recs_catalog_init(recs_state_t *st);
void recs_catalog_free(recs_state_t *st);
/* Insert or replace a product (loop thread). */
int recs_catalog_put(recs_state_t *st, const product_t *p);
/* After a new snapshot + delta: give every product its id there. */
int recs_catalog_remap(recs_state_t *st);
/* Record item -> catalogue index (grows item2p). */
int recs_catalog_map_item(recs_state_t *st, uint32_t item, uint32_t p);
uint32_t recs_catalog_product(const recs_state_t *st, pstr_t id);   /* index or RECS_NONE */
uint32_t recs_catalog_category(const recs_state_t *st, pstr_t name);/* id or RECS_NONE */
/* Recompute the consumable flags if [recs] consumable_categories changed. */
void recs_catalog_consumables(recs_state_t *st, const char *csv);
uint32_t recs_currency_pack(pstr_t code);

/* The catalogue as the core's callback: ctx is a recs_info_ctx_t. */
typedef struct recs_info_ctx_s {
  const recs_state_t *st;
  uint32_t self;              /* reported with its real category even when inactive */
  uint32_t currency;          /* prices in another currency count as unknown; 0 = any */
} recs_info_ctx_t;
int recs_catalog_info(void *ctx, uint32_t item, recs_item_info_t *out);
/* The catalogue as the core's arrays (in place of the callback) when they give the same
 * answers: no currency to compare prices in and no item reported despite being inactive.
 * Returns 0 when the arrays cannot serve (allocation failure). */
int recs_catalog_arrays(const recs_state_t *st, recs_catalog_t *out);

/* model_recs.c: ask for a full rebuild now (delta full, or orders skipped by the budget);
 * at most one queued at a time. */
void recs_request_rebuild(recs_state_t *st, const char *why);

#endif

/* recs_internal.h -- private layout shared by the src/recs .c files: the snapshot blob's header
 * and sections, the frozen string table lookup, and small helpers.
 * Invariant: a recs_snapshot_t's pointers all point into its own blob, which never changes
 * after recs_snap_finish (or a successful load). */
#ifndef PATRON_RECS_INTERNAL_H
#define PATRON_RECS_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "recs.h"

#define RECS_SNAP_MAGIC "PATRECS"
#define RECS_SNAP_VERSION 2u /* 2: model kind and EASE knobs in the config */
#define RECS_SNAP_ENDIAN 0x01020304u

enum {
  RS_STR_OFF,   /* uint32[n+1] */
  RS_STR,       /* bytes */
  RS_HASH,      /* uint32[hash_cap], RECS_NO_ITEM = empty */
  RS_POP,       /* uint32[n] baskets holding the item */
  RS_POP_RANK,  /* uint32[n] items by popularity desc, id asc */
  RS_TREND_RANK,/* uint32[n_trend] */
  RS_G0_OFF,    /* uint32[n+1] */
  RS_G0_NBR,    /* uint32[e0] */
  RS_G0_SC,     /* float[e0] */
  RS_G1_OFF,
  RS_G1_NBR,
  RS_G1_SC,
  RS_NSEC
};

/* Fixed-layout model parameters as persisted (recs_config_t is rebuilt from it). */
typedef struct recs_snap_cfg_s {
  uint32_t sim, row_norm, top_k, min_support, max_basket, customer_graph, max_history,
      threads;
  double alpha, shrink, pop_damp, power, half_life_days, trend_days;
  uint32_t model, ease_max_items, ease_neighbours, ease_top_k; /* model: the one built (never
                                                          AUTO); ease_top_k 0: top_k */
  double ease_lambda, ease_blend, ease_pop_damp;
} recs_snap_cfg_t;

typedef struct recs_snap_hdr_s {
  char magic[8];
  uint32_t version, endian;
  uint64_t total_bytes;
  uint32_t n_items, hash_cap, n_trend, has_g1;
  uint64_t str_bytes, e[2];
  uint64_t baskets, customers;
  int64_t built_at;
  recs_snap_cfg_t cfg;
  uint64_t off[RS_NSEC];
  uint32_t crc;  /* CRC-32 of bytes [sizeof(hdr), total_bytes) */
  uint32_t pad;
} recs_snap_hdr_t;

struct recs_snapshot_s {
  atomic_uint_fast32_t refs;
  unsigned char *blob;
  size_t len;
  const recs_snap_hdr_t *h;
  recs_config_t cfg;
  const uint32_t *str_off, *hash, *pop, *pop_rank, *trend_rank;
  const char *str;
  const uint32_t *g_off[2], *g_nbr[2];
  const float *g_sc[2];
  int g0_desc; /* derived (recs_snap_derive): every basket-graph row is sorted by score,
                  best first, its scores finite (recs_cart's merged walk relies on it) */
  uint64_t *idx;     /* derived id index (NULL when out of memory: the persisted hash serves):
                        open addressing, slot = tag (high 32 bits of recs_hash_words) << 32 |
                        item; an empty slot is all ones */
  uint32_t idx_mask; /* its capacity - 1 (a power of two, at least twice the items) */
};

/* Sizes of each section for given counts; fills off[] and returns the total blob size. */
size_t recs_snap_layout(recs_snap_hdr_t *h);
/* Points the snapshot's fields into its blob (after layout or load). */
void recs_snap_bind(recs_snapshot_t *s);
/* Computes the CRC into the header, then the derived fields (recs_snap_derive). */
void recs_snap_seal(recs_snapshot_t *s);
/* Fills the fields derived from the sections (g0_desc); after build or load. */
void recs_snap_derive(recs_snapshot_t *s);

static inline uint64_t recs_hash_bytes(const char *s, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, then a final mix */
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  return h;
}

/* A word-at-a-time hash of n bytes (the derived id index; never persisted, so it may change
 * freely): 8 bytes per step, the tail read as overlapping words inside the string. */
static inline uint64_t recs_load64(const char *s) {
  uint64_t x;
  memcpy(&x, s, 8);
  return x;
}

static inline uint64_t recs_hash_words(const char *s, size_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull), x;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    h = (h ^ recs_load64(s + i)) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
  }
  if (i < n) {
    if (n >= 8) {
      x = recs_load64(s + n - 8);
    } else if (n >= 4) {
      uint32_t a, b;
      memcpy(&a, s, 4);
      memcpy(&b, s + n - 4, 4);
      x = (uint64_t)a << 32 | b;
    } else {
      x = (uint64_t)(unsigned char)s[0] << 16 | (uint64_t)(unsigned char)s[n / 2] << 8 |
          (unsigned char)s[n - 1];
    }
    h = (h ^ x) * 0xc4ceb9fe1a85ec53ull;
  }
  h ^= h >> 32;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 29;
  return h;
}

static inline uint32_t recs_hash_u32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

/* ---- graph builders (recs_build.c: co-occurrence; recs_ease.c: EASE) ----
 * Input: transactions as CSR (toff[ntx+1] into titems, each sorted and distinct) with weights
 * tw; output: per item the top cfg->top_k neighbours (positive scores, best first). */
typedef struct graph_out_s {
  uint32_t *off, *nbr;
  float *sc;
  uint64_t e;
} graph_out_t;
int recs_cooc_graph(const recs_config_t *cfg, uint32_t n, const uint64_t *toff,
                    const uint32_t *titems, const float *tw, size_t ntx, graph_out_t *g);
int recs_ease_graph(const recs_config_t *cfg, recs_model_t model, uint32_t n,
                    const uint64_t *toff, const uint32_t *titems, const float *tw, size_t ntx,
                    graph_out_t *g);

/* Neighbours kept per item in an EASE basket graph (ease_top_k, else top_k; 0 = all). */
static inline uint32_t recs_ease_rows(const recs_config_t *cfg) {
  return cfg->ease_top_k ? cfg->ease_top_k : cfg->top_k;
}

/* Top-K selection: a min-heap (root = worst kept; order score desc, then id asc). push returns
 * the new size; sort orders the kept ones best first. */
typedef struct recs_cand_s { uint32_t id; float s; } recs_cand_t;
size_t recs_topk_push(recs_cand_t *heap, size_t nh, size_t K, recs_cand_t c);
void recs_topk_sort(recs_cand_t *heap, size_t nh);

/* Interner internals the builder and snapshot writer read. */
const uint32_t *recs_interner_offsets(const recs_interner_t *in);
const char *recs_interner_bytes(const recs_interner_t *in, size_t *n);

#endif

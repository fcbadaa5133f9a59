/* recs_snapshot.c -- the immutable model snapshot: blob layout, validation on load,
 * persistence, reference counting, the atomically swapped holder, and read accessors.
 * Invariants: a snapshot's blob is [header | sections at 8-byte aligned offsets], sealed
 * with a CRC-32 over everything after the header; a loaded blob passed every range check, so
 * readers index without bounds checks. Readers never write to a snapshot. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "recs_internal.h"
#include "store/fileio.h"

static size_t al8(size_t n) { return (n + 7u) & ~(size_t)7u; }

size_t recs_snap_layout(recs_snap_hdr_t *h) {
  uint64_t n = h->n_items;
  uint64_t sz[RS_NSEC] = {
      [RS_STR_OFF] = 4 * (n + 1), [RS_STR] = h->str_bytes, [RS_HASH] = 4ull * h->hash_cap,
      [RS_POP] = 4 * n, [RS_POP_RANK] = 4 * n, [RS_TREND_RANK] = 4ull * h->n_trend,
      [RS_G0_OFF] = 4 * (n + 1), [RS_G0_NBR] = 4 * h->e[0], [RS_G0_SC] = 4 * h->e[0],
      [RS_G1_OFF] = h->has_g1 ? 4 * (n + 1) : 0, [RS_G1_NBR] = 4 * h->e[1],
      [RS_G1_SC] = 4 * h->e[1]};
  size_t pos = al8(sizeof(recs_snap_hdr_t));
  for (int i = 0; i < RS_NSEC; i++) {
    h->off[i] = pos;
    pos = al8(pos + sz[i]);
  }
  h->total_bytes = pos;
  return pos;
}

static void cfg_from_snap(recs_config_t *c, const recs_snap_cfg_t *p) {
  c->sim = (recs_sim_t)p->sim;
  c->row_norm = (int)p->row_norm;
  c->top_k = p->top_k;
  c->min_support = p->min_support;
  c->max_basket = p->max_basket;
  c->customer_graph = (int)p->customer_graph;
  c->max_history = p->max_history;
  c->threads = (int)p->threads;
  c->alpha = p->alpha;
  c->shrink = p->shrink;
  c->pop_damp = p->pop_damp;
  c->power = p->power;
  c->half_life_days = p->half_life_days;
  c->trend_days = p->trend_days;
  c->model = (recs_model_t)p->model;
  c->ease_max_items = p->ease_max_items;
  c->ease_neighbours = p->ease_neighbours;
  c->ease_top_k = p->ease_top_k;
  c->ease_lambda = p->ease_lambda;
  c->ease_blend = p->ease_blend;
  c->ease_pop_damp = p->ease_pop_damp;
}

void recs_snap_bind(recs_snapshot_t *s) {
  const recs_snap_hdr_t *h = (const recs_snap_hdr_t *)s->blob;
  const unsigned char *b = s->blob;
  s->h = h;
  s->str_off = (const uint32_t *)(b + h->off[RS_STR_OFF]);
  s->str = (const char *)(b + h->off[RS_STR]);
  s->hash = (const uint32_t *)(b + h->off[RS_HASH]);
  s->pop = (const uint32_t *)(b + h->off[RS_POP]);
  s->pop_rank = (const uint32_t *)(b + h->off[RS_POP_RANK]);
  s->trend_rank = (const uint32_t *)(b + h->off[RS_TREND_RANK]);
  for (int g = 0; g < 2; g++) {
    int base = g ? RS_G1_OFF : RS_G0_OFF;
    int present = g == 0 || h->has_g1;
    s->g_off[g] = present ? (const uint32_t *)(b + h->off[base]) : NULL;
    s->g_nbr[g] = (const uint32_t *)(b + h->off[base + 1]);
    /* cppcheck-suppress invalidPointerCast ; the section holds native floats written by this
     * build (magic and byte-order checks reject a foreign file), 8-byte aligned (see top) */
    s->g_sc[g] = (const float *)(b + h->off[base + 2]);
  }
  cfg_from_snap(&s->cfg, &h->cfg);
}

void recs_snap_seal(recs_snapshot_t *s) {
  recs_snap_hdr_t *h = (recs_snap_hdr_t *)s->blob;
  h->crc = recs_crc32(0, s->blob + sizeof(*h), s->len - sizeof(*h));
  recs_snap_derive(s);
}

void recs_snap_derive(recs_snapshot_t *s) {
  const uint32_t *off = s->g_off[0];
  const float *sc = s->g_sc[0];
  int desc = 1;
  for (uint32_t i = 0; desc && i < s->h->n_items; i++)
    for (uint32_t k = off[i]; desc && k < off[i + 1]; k++)
      desc = isfinite(sc[k]) && (k + 1 == off[i + 1] || sc[k] >= sc[k + 1]);
  s->g0_desc = desc;
  /* the id index: the persisted table hashes a byte at a time; this one a word at a time
   * and keeps a tag of the hash, so a probe rarely compares names that differ */
  free(s->idx);
  s->idx = NULL;
  uint64_t cap = 16;
  while (cap < 2ull * s->h->n_items) cap *= 2;
  if (cap > UINT32_MAX || !(s->idx = malloc(cap * sizeof(uint64_t)))) return;
  memset(s->idx, 0xff, cap * sizeof(uint64_t));
  s->idx_mask = (uint32_t)(cap - 1);
  for (uint32_t i = 0; i < s->h->n_items; i++) {
    uint64_t h = recs_hash_words(s->str + s->str_off[i], s->str_off[i + 1] - s->str_off[i]);
    uint32_t x = (uint32_t)h & s->idx_mask;
    while (s->idx[x] != UINT64_MAX) x = (x + 1) & s->idx_mask;
    s->idx[x] = (h >> 32) << 32 | i;
  }
}

void recs_snapshot_ref(recs_snapshot_t *s) {
  atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void recs_snapshot_unref(recs_snapshot_t *s) {
  if (!s) return;
  if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
    free(s->blob);
    free(s->idx);
    free(s);
  }
}

void recs_snapshot_stats(const recs_snapshot_t *s, recs_snapshot_stats_t *o) {
  o->items = s->h->n_items;
  o->baskets = s->h->baskets;
  o->customers = s->h->customers;
  o->edges[0] = s->h->e[0];
  o->edges[1] = s->h->e[1];
  o->bytes = s->len;
  o->built_at = s->h->built_at;
  o->trending = s->h->n_trend;
}

const recs_config_t *recs_snapshot_config(const recs_snapshot_t *s) { return &s->cfg; }

/* memcmp(a, b, n) == 0; ids of 8 to 16 bytes (the usual SKUs) as two overlapping words. */
static inline int same_bytes(const char *a, const char *b, size_t n) {
  if (n >= 8 && n <= 16) {
    uint64_t a0, a1, b0, b1;
    memcpy(&a0, a, 8); memcpy(&a1, a + n - 8, 8);
    memcpy(&b0, b, 8); memcpy(&b1, b + n - 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }
  return memcmp(a, b, n) == 0;
}

/* The persisted table's look-up (the derived index could not be allocated): out of line, so
 * that the usual path keeps its registers. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static uint32_t lookup_table(const recs_snapshot_t *s, const char *id, size_t n) {
  uint32_t mask = s->h->hash_cap - 1, i = (uint32_t)recs_hash_bytes(id, n) & mask;
  for (;;) {
    uint32_t it = s->hash[i];
    if (it == RECS_NO_ITEM) return RECS_NO_ITEM;
    if (s->str_off[it + 1] - s->str_off[it] == n && memcmp(s->str + s->str_off[it], id, n) == 0)
      return it;
    i = (i + 1) & mask;
  }
}

/* The derived index's probe for an id of any length (the name compare may call memcmp). */
static inline uint32_t lookup_idx(const recs_snapshot_t *s, const char *id, size_t n) {
  uint64_t h = recs_hash_words(id, n), tag = h >> 32 << 32;
  const uint64_t *idx = s->idx;
  const uint32_t *off = s->str_off;
  for (uint32_t i = (uint32_t)h & s->idx_mask;; i = (i + 1) & s->idx_mask) {
    uint64_t v = idx[i];
    if (v == UINT64_MAX) return RECS_NO_ITEM;
    if ((v & 0xffffffff00000000ull) != tag) continue;
    uint32_t it = (uint32_t)v;
    if (off[it + 1] - off[it] == n && same_bytes(s->str + off[it], id, n)) return it;
  }
}

/* lookup_idx for ids of other lengths than 8 to 16 bytes: out of line, so that the usual
 * path makes no call and needs no callee-saved registers. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static uint32_t lookup_idx_any(const recs_snapshot_t *s, const char *id, size_t n) {
  return lookup_idx(s, id, n);
}

uint32_t recs_snapshot_lookup(const recs_snapshot_t *s, const char *id, size_t n) {
  if (!id || n == 0 || s->h->n_items == 0) return RECS_NO_ITEM;
  if (!s->idx) return lookup_table(s, id, n);
  if (n < 8 || n > 16) return lookup_idx_any(s, id, n);
  return lookup_idx(s, id, n); /* same_bytes compares two words, no call */
}

const char *recs_snapshot_name(const recs_snapshot_t *s, uint32_t item, size_t *n) {
  if (item >= s->h->n_items) return NULL;
  if (n) *n = s->str_off[item + 1] - s->str_off[item];
  return s->str + s->str_off[item];
}

const char *recs_snapshot_names(const recs_snapshot_t *s, const uint32_t **off) {
  *off = s->str_off;
  return s->str;
}

size_t recs_snapshot_neighbours(const recs_snapshot_t *s, recs_graph_t g, uint32_t item,
                                const uint32_t **ids, const float **scores) {
  int gi = (g == RECS_GRAPH_CUSTOMER && s->g_off[1]) ? 1 : 0;
  if (item >= s->h->n_items) {
    *ids = NULL;
    *scores = NULL;
    return 0;
  }
  uint32_t a = s->g_off[gi][item], b = s->g_off[gi][item + 1];
  *ids = s->g_nbr[gi] + a;
  *scores = s->g_sc[gi] + a;
  return b - a;
}

uint32_t recs_snapshot_popularity(const recs_snapshot_t *s, uint32_t item) {
  return item < s->h->n_items ? s->pop[item] : 0;
}

const void *recs_snapshot_bytes(const recs_snapshot_t *s, size_t *len) {
  *len = s->len;
  return s->blob;
}

static int bad(perr_info_t *e, const char *why) {
  return perr_set(e, PERR_INVALID_PARAMS, "snapshot", "invalid recs snapshot: %s", why);
}

static int check_csr(const uint32_t *off, const uint32_t *nbr, const float *sc, uint32_t n,
                     uint64_t e) {
  if (off[0] != 0 || off[n] != e) return 0;
  for (uint32_t i = 0; i < n; i++)
    if (off[i + 1] < off[i]) return 0;
  for (uint64_t k = 0; k < e; k++)
    if (nbr[k] >= n || !isfinite(sc[k])) return 0;
  return 1;
}

int recs_snapshot_load(const void *buf, size_t len, recs_snapshot_t **out, perr_info_t *e) {
  *out = NULL;
  recs_snap_hdr_t h;
  if (!buf || len < sizeof(h)) return bad(e, "truncated header");
  memcpy(&h, buf, sizeof(h));
  if (memcmp(h.magic, RECS_SNAP_MAGIC, 8) != 0) return bad(e, "bad magic");
  if (h.endian != RECS_SNAP_ENDIAN) return bad(e, "byte order differs");
  if (h.version != RECS_SNAP_VERSION) return bad(e, "unsupported version");
  if (h.total_bytes != len) return bad(e, "length mismatch");
  if (h.n_items >= RECS_NO_ITEM || h.has_g1 > 1 || h.n_trend > h.n_items ||
      h.str_bytes > UINT32_MAX || h.e[0] > UINT32_MAX || h.e[1] > UINT32_MAX ||
      (h.hash_cap & (h.hash_cap - 1)) != 0 || h.hash_cap < 2 ||
      h.hash_cap < 2ull * h.n_items || (!h.has_g1 && h.e[1]))
    return bad(e, "bad counts");
  recs_snap_hdr_t chk = h;
  if (recs_snap_layout(&chk) != len || memcmp(chk.off, h.off, sizeof(h.off)) != 0)
    return bad(e, "bad section layout");
  if (recs_crc32(0, (const unsigned char *)buf + sizeof(h), len - sizeof(h)) != h.crc)
    return bad(e, "checksum mismatch");
  recs_snapshot_t *s = calloc(1, sizeof(*s));
  unsigned char *blob = s ? malloc(len) : NULL;
  if (!blob) {
    free(s);
    return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  }
  memcpy(blob, buf, len);
  s->blob = blob;
  s->len = len;
  atomic_init(&s->refs, 1);
  recs_snap_bind(s);
  uint32_t n = h.n_items;
  int ok = s->str_off[0] == 0 && s->str_off[n] == h.str_bytes;
  for (uint32_t i = 0; ok && i < n; i++) ok = s->str_off[i + 1] > s->str_off[i];
  uint32_t filled = 0;
  for (uint32_t i = 0; ok && i < h.hash_cap; i++) {
    if (s->hash[i] == RECS_NO_ITEM) continue;
    ok = s->hash[i] < n;
    filled++;
  }
  ok = ok && filled == n;
  for (uint32_t i = 0; ok && i < n; i++) ok = s->pop_rank[i] < n;
  for (uint32_t i = 0; ok && i < h.n_trend; i++) ok = s->trend_rank[i] < n;
  ok = ok && check_csr(s->g_off[0], s->g_nbr[0], s->g_sc[0], n, h.e[0]);
  if (ok && h.has_g1) ok = check_csr(s->g_off[1], s->g_nbr[1], s->g_sc[1], n, h.e[1]);
  /* every item must be findable through the hash table */
  for (uint32_t i = 0; ok && i < n; i++) {
    size_t l = 0;
    const char *nm = recs_snapshot_name(s, i, &l);
    ok = recs_snapshot_lookup(s, nm, l) == i;
  }
  if (!ok) {
    recs_snapshot_unref(s);
    return bad(e, "inconsistent sections");
  }
  recs_snap_derive(s);
  *out = s;
  return PERR_OK;
}

int recs_snapshot_save_file(const recs_snapshot_t *s, const char *path, perr_info_t *e) {
  const void *parts[1] = {s->blob};
  size_t lens[1] = {s->len};
  return file_write_atomic(path, parts, lens, 1, e);
}

int recs_snapshot_load_file(const char *path, recs_snapshot_t **out, perr_info_t *e) {
  unsigned char *buf;
  size_t n;
  *out = NULL;
  int rc = file_read_all(path, &buf, &n, e);
  if (rc) return rc;
  rc = recs_snapshot_load(buf, n, out, e);
  free(buf);
  return rc;
}

/* ---- holder: a mutex guards only the pointer copy + ref, never a whole request ---- */
struct recs_holder_s {
  pthread_mutex_t mu;
  recs_snapshot_t *cur;
};

recs_holder_t *recs_holder_new(void) {
  recs_holder_t *h = calloc(1, sizeof(*h));
  if (h && pthread_mutex_init(&h->mu, NULL) != 0) {
    free(h);
    return NULL;
  }
  return h;
}

void recs_holder_free(recs_holder_t *h) {
  if (!h) return;
  recs_snapshot_unref(h->cur);
  pthread_mutex_destroy(&h->mu);
  free(h);
}

recs_snapshot_t *recs_holder_acquire(recs_holder_t *h) {
  pthread_mutex_lock(&h->mu);
  recs_snapshot_t *s = h->cur;
  if (s) recs_snapshot_ref(s);
  pthread_mutex_unlock(&h->mu);
  return s;
}

void recs_holder_swap(recs_holder_t *h, recs_snapshot_t *s) {
  pthread_mutex_lock(&h->mu);
  recs_snapshot_t *old = h->cur;
  h->cur = s;
  pthread_mutex_unlock(&h->mu);
  recs_snapshot_unref(old);
}

/* recs_intern.c -- the interner (byte string -> dense uint32) and CRC-32.
 * Invariants: ids are 0..count-1 in insertion order and never change; the string of id i is
 * bytes [off[i], off[i+1]) of the byte buffer; the open-addressing table (power-of-two
 * capacity, load <= 1/2) holds every id exactly once. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "recs_internal.h"

#define RECS_ID_MAXLEN 1024

struct recs_interner_s {
  char *bytes;
  size_t nbytes, capbytes;
  uint32_t *off;   /* count + 1 entries */
  uint32_t count, capoff;
  uint32_t *slots; /* RECS_NO_ITEM = empty */
  uint32_t nslots;
};

recs_interner_t *recs_interner_new(void) {
  recs_interner_t *in = calloc(1, sizeof(*in));
  if (!in) return NULL;
  in->capoff = 64;
  in->off = malloc(sizeof(uint32_t) * in->capoff);
  in->nslots = 128;
  in->slots = malloc(sizeof(uint32_t) * in->nslots);
  in->capbytes = 1024;
  in->bytes = malloc(in->capbytes);
  if (!in->off || !in->slots || !in->bytes) {
    recs_interner_free(in);
    return NULL;
  }
  in->off[0] = 0;
  memset(in->slots, 0xff, sizeof(uint32_t) * in->nslots);
  return in;
}

void recs_interner_free(recs_interner_t *in) {
  if (!in) return;
  free(in->bytes);
  free(in->off);
  free(in->slots);
  free(in);
}

static uint32_t find_slot(const recs_interner_t *in, const char *s, size_t n, uint64_t h) {
  uint32_t mask = in->nslots - 1, i = (uint32_t)h & mask;
  for (;;) {
    uint32_t id = in->slots[i];
    if (id == RECS_NO_ITEM) return i;
    if (in->off[id + 1] - in->off[id] == n && memcmp(in->bytes + in->off[id], s, n) == 0)
      return i;
    i = (i + 1) & mask;
  }
}

static int grow_slots(recs_interner_t *in) {
  uint32_t ns = in->nslots * 2;
  uint32_t *sl = malloc(sizeof(uint32_t) * ns);
  if (!sl) return PERR_INTERNAL;
  memset(sl, 0xff, sizeof(uint32_t) * ns);
  for (uint32_t id = 0; id < in->count; id++) {
    uint32_t len = in->off[id + 1] - in->off[id];
    uint32_t i = (uint32_t)recs_hash_bytes(in->bytes + in->off[id], len) & (ns - 1);
    while (sl[i] != RECS_NO_ITEM) i = (i + 1) & (ns - 1);
    sl[i] = id;
  }
  free(in->slots);
  in->slots = sl;
  in->nslots = ns;
  return PERR_OK;
}

int recs_intern(recs_interner_t *in, const char *s, size_t n, uint32_t *id) {
  if (!s || n == 0 || n > RECS_ID_MAXLEN) return PERR_INVALID_PARAMS;
  uint64_t h = recs_hash_bytes(s, n);
  uint32_t slot = find_slot(in, s, n, h);
  if (in->slots[slot] != RECS_NO_ITEM) {
    *id = in->slots[slot];
    return PERR_OK;
  }
  if (in->count >= RECS_NO_ITEM - 1 || in->nbytes + n > UINT32_MAX) return PERR_TOO_LARGE;
  if (in->nbytes + n > in->capbytes) {
    size_t nc = in->capbytes * 2;
    while (nc < in->nbytes + n) nc *= 2;
    char *nb = realloc(in->bytes, nc);
    if (!nb) return PERR_INTERNAL;
    in->bytes = nb;
    in->capbytes = nc;
  }
  if (in->count + 2 > in->capoff) {
    uint32_t nc = in->capoff * 2;
    uint32_t *no = realloc(in->off, sizeof(uint32_t) * nc);
    if (!no) return PERR_INTERNAL;
    in->off = no;
    in->capoff = nc;
  }
  memcpy(in->bytes + in->nbytes, s, n);
  in->nbytes += n;
  in->off[in->count + 1] = (uint32_t)in->nbytes;
  in->slots[slot] = in->count;
  *id = in->count++;
  if ((uint64_t)in->count * 2 > in->nslots) return grow_slots(in);
  return PERR_OK;
}

uint32_t recs_interner_find(const recs_interner_t *in, const char *s, size_t n) {
  if (!s || n == 0) return RECS_NO_ITEM;
  return in->slots[find_slot(in, s, n, recs_hash_bytes(s, n))];
}

uint32_t recs_interner_count(const recs_interner_t *in) { return in->count; }

const char *recs_interner_name(const recs_interner_t *in, uint32_t id, size_t *n) {
  if (id >= in->count) return NULL;
  if (n) *n = in->off[id + 1] - in->off[id];
  return in->bytes + in->off[id];
}

const uint32_t *recs_interner_offsets(const recs_interner_t *in) { return in->off; }

const char *recs_interner_bytes(const recs_interner_t *in, size_t *n) {
  *n = in->nbytes;
  return in->bytes;
}

/* CRC-32 (reflected polynomial 0xEDB88320, as zlib), slicing by 8: eight bytes a step through
 * eight 256-entry tables (~8x the former two 4-bit steps per byte, which took ~0.2 s for a
 * 100 MB model file at start-up, twice: file and snapshot). The tables are computed once
 * (pthread_once), then only read, by any thread. */
static uint32_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
    crc_tab[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++)
    for (int t = 1; t < 8; t++)
      crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
}

uint32_t recs_crc32(uint32_t crc, const void *buf, size_t n) {
  const unsigned char *p = buf;
  pthread_once(&crc_once, crc_init);
  crc = ~crc;
  for (; n >= 8; p += 8, n -= 8) { /* bytes combined explicitly: any host byte order */
    uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                         (uint32_t)p[3] << 24);
    uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
    crc = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^ crc_tab[5][(lo >> 16) & 0xff] ^
          crc_tab[4][lo >> 24] ^ crc_tab[3][hi & 0xff] ^ crc_tab[2][(hi >> 8) & 0xff] ^
          crc_tab[1][(hi >> 16) & 0xff] ^ crc_tab[0][hi >> 24];
  }
  while (n--) crc = (crc >> 8) ^ crc_tab[0][(crc ^ *p++) & 0xff];
  return ~crc;
}

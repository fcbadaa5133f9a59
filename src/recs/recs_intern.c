/* recs_intern.c -- the interner (byte string -> dense uint32) and CRC-32.
 * Invariants: ids are 0..count-1 in insertion order and never change; the string of id i is
 * bytes [off[i], off[i+1]) of the byte buffer; the open-addressing table (power-of-two
 * capacity, load <= 1/2) holds every id exactly once. */
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

/* CRC-32 (reflected polynomial 0xEDB88320, as zlib), two 4-bit steps per byte from a
 * constant 16-entry table: no mutable state, ~0.5 GB/s. */
uint32_t recs_crc32(uint32_t crc, const void *buf, size_t n) {
  static const uint32_t t[16] = {
      0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu, 0x76dc4190u, 0x6b6b51f4u,
      0x4db26158u, 0x5005713cu, 0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
      0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu};
  const unsigned char *p = buf;
  crc = ~crc;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    crc = (crc >> 4) ^ t[crc & 15];
    crc = (crc >> 4) ^ t[crc & 15];
  }
  return ~crc;
}

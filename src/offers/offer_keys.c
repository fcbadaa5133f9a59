/* offer_keys.c -- the offer-token key ring: a current key and the previous one (accepted for
 * grace_s after a rotation). Its bytes are "PTK1" be32(current_id) key[32] be32(previous_id)
 * key[32] be64(rotated_at); previous_id 0 = none. Where it lives:
 * - an embedded store: the file dir/offers.key (mode 0600, written atomically);
 * - a shared store (docs/SCALEOUT.md): the record META "offers_keyring", so the fleet's nodes
 *   read one ring; creating and rotating it are writes (made under the fleet's write lock,
 *   reaching the other nodes through the change feed like any record).
 * Invariants: key bytes are cleansed from every buffer they pass through; a ring is never
 * stored with current_id 0 or current_id == previous_id (both are refused on read). */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>

#include "offers/offers_internal.h"
#include "store/fileio.h"

#define RING_MAGIC "PTK1"
#define RING_BYTES (4 + 4 + OFFERS_KEY_BYTES + 4 + OFFERS_KEY_BYTES + 8)
#define RING_META "offers_keyring"

static void encode(const offers_keyring_t *r, unsigned char b[RING_BYTES]) {
  unsigned char *p = b;
  memcpy(p, RING_MAGIC, 4), p += 4;
  offer_put_be(p, r->current_id, 4), p += 4;
  memcpy(p, r->current, OFFERS_KEY_BYTES), p += OFFERS_KEY_BYTES;
  offer_put_be(p, r->previous_id, 4), p += 4;
  memcpy(p, r->previous, OFFERS_KEY_BYTES), p += OFFERS_KEY_BYTES;
  offer_put_be(p, (uint64_t)r->rotated_at, 8);
}

/* what names the source in the refusal ("/var/lib/patron/offers.key", "the stored ring"). */
static int decode(const unsigned char *b, size_t n, int64_t grace_s, offers_keyring_t *out,
                  const char *what, perr_info_t *e) {
  memset(out, 0, sizeof *out);
  out->grace_s = grace_s;
  if (n != RING_BYTES || memcmp(b, RING_MAGIC, 4))
    return perr_set(e, PERR_UNAVAILABLE, NULL, "%s is not an offers key ring", what);
  const unsigned char *p = b + 4;
  out->current_id = (uint32_t)offer_get_be(p, 4), p += 4;
  memcpy(out->current, p, OFFERS_KEY_BYTES), p += OFFERS_KEY_BYTES;
  out->previous_id = (uint32_t)offer_get_be(p, 4), p += 4;
  memcpy(out->previous, p, OFFERS_KEY_BYTES), p += OFFERS_KEY_BYTES;
  out->rotated_at = (int64_t)offer_get_be(p, 8);
  if (out->current_id == 0 || out->current_id == out->previous_id) {
    OPENSSL_cleanse(out, sizeof *out);
    return perr_set(e, PERR_UNAVAILABLE, NULL, "%s: bad key ids", what);
  }
  return 0;
}

static int fresh_key(unsigned char *k, perr_info_t *e) {
  if (RAND_bytes(k, OFFERS_KEY_BYTES) != 1)
    return perr_set(e, PERR_UNAVAILABLE, NULL, "no random bytes for the offers key");
  return 0;
}

/* r with a new current key; the old current becomes the previous one from now. */
static int rotate(offers_keyring_t *r, int64_t now, perr_info_t *e) {
  r->previous_id = r->current_id;
  memcpy(r->previous, r->current, OFFERS_KEY_BYTES);
  r->current_id = r->current_id + 1 ? r->current_id + 1 : 1;
  r->rotated_at = now;
  return fresh_key(r->current, e);
}

/* ---- the key file (embedded store) ----------------------------------------------------- */

static int key_path(const char *dir, char *out, size_t n, perr_info_t *e) {
  if ((size_t)snprintf(out, n, "%s/%s", dir, OFFERS_KEY_FILE) >= n)
    return perr_set(e, PERR_INVALID_PARAMS, "dir", "directory path too long");
  return 0;
}

static int write_ring(const char *dir, const offers_keyring_t *r, perr_info_t *e) {
  char path[4096];
  int rc = key_path(dir, path, sizeof path, e);
  if (rc) return rc;
  unsigned char b[RING_BYTES];
  encode(r, b);
  const void *parts[1] = {b};
  size_t lens[1] = {sizeof b};
  rc = file_write_atomic(path, parts, lens, 1, e); /* creates path.tmp with mode 0600 */
  OPENSSL_cleanse(b, sizeof b);
  return rc;
}

int offers_keys_open(const char *dir, bool create, int64_t grace_s, offers_keyring_t *out,
                     perr_info_t *e) {
  char path[4096];
  int rc = key_path(dir, path, sizeof path, e);
  if (rc) return rc;
  memset(out, 0, sizeof *out);
  out->grace_s = grace_s;
  unsigned char *b;
  size_t n;
  rc = file_read_all(path, &b, &n, e);
  if (rc == PERR_NOT_FOUND && create) {
    out->current_id = 1;
    if ((rc = fresh_key(out->current, e))) return rc;
    return write_ring(dir, out, e);
  }
  if (rc) return rc;
  rc = decode(b, n, grace_s, out, path, e);
  OPENSSL_cleanse(b, n);
  free(b);
  return rc;
}

int offers_keys_rotate(const char *dir, int64_t now, offers_keyring_t *ring, perr_info_t *e) {
  offers_keyring_t r = *ring;
  int rc = rotate(&r, now, e);
  if (!rc) rc = write_ring(dir, &r, e);
  if (!rc) *ring = r;
  OPENSSL_cleanse(&r, sizeof r);
  return rc;
}

/* ---- the stored ring (shared store) ---------------------------------------------------- */

int offers_keys_load(store_txn_t *t, int64_t grace_s, offers_keyring_t *out, perr_info_t *e) {
  const void *v;
  size_t n;
  int rc = store_get(t, STORE_T_META, RING_META, sizeof RING_META - 1, &v, &n);
  if (rc == PERR_NOT_FOUND) return perr_set(e, rc, NULL, "no offers key ring is stored");
  if (rc) return offer_store_err(t, rc, e);
  return decode(v, n, grace_s, out, "the stored offers key ring", e);
}

static int store_ring(store_txn_t *w, const offers_keyring_t *r, perr_info_t *e) {
  unsigned char b[RING_BYTES];
  encode(r, b);
  int rc = store_put(w, STORE_T_META, RING_META, sizeof RING_META - 1, b, sizeof b);
  OPENSSL_cleanse(b, sizeof b);
  return rc ? offer_store_err(w, rc, e) : 0;
}

int offers_keys_ensure(store_txn_t *w, const offers_keyring_t *seed, int64_t grace_s,
                       offers_keyring_t *out, bool *created, perr_info_t *e) {
  *created = false;
  int rc = offers_keys_load(w, grace_s, out, e);
  if (rc != PERR_NOT_FOUND) return rc;
  if (seed) {
    *out = *seed;
    out->grace_s = grace_s;
  } else {
    memset(out, 0, sizeof *out);
    out->grace_s = grace_s;
    out->current_id = 1;
    if ((rc = fresh_key(out->current, e))) return rc;
  }
  if ((rc = store_ring(w, out, e))) OPENSSL_cleanse(out, sizeof *out);
  else *created = true;
  return rc;
}

int offers_keys_rotate_stored(store_txn_t *w, int64_t now, const offers_keyring_t *fallback,
                              offers_keyring_t *out, perr_info_t *e) {
  int64_t grace_s = fallback->grace_s;
  int rc = offers_keys_load(w, grace_s, out, e);
  if (rc == PERR_NOT_FOUND) *out = *fallback, rc = 0;
  if (!rc) rc = rotate(out, now, e);
  if (!rc) rc = store_ring(w, out, e);
  if (rc) OPENSSL_cleanse(out, sizeof *out);
  return rc;
}

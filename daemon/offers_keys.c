/* offers_keys.c -- the offer-token key ring in force on this node, and offers.rotate_key.
 * Embedded store: the ring is the file data_dir/offers.key (opened, created at first start);
 * offers.rotate_key (writer) rewrites it and publishes the new ring at once.
 * Shared store (docs/SCALEOUT.md section 5): the ring is the record META "offers_keyring" in
 * the system of record, one for the fleet. At start it is read from the local copy; when the
 * copy has none, the node stores one (its offers.key if it has one, so tokens issued before the
 * move keep verifying; else a fresh key) in one write txn run here, before any listener is up,
 * so no write job can be running: the fleet's write lock makes the first node's ring the one
 * every node keeps. offers.rotate_key rotates the stored ring inside its write txn and the new
 * ring is published after the COMMIT (on_loop); other nodes publish it when the change feed
 * brings the record (offers_wire_follow_keys). offers.redeem reads the ring from its own write
 * txn, which is caught up under the write lock: a token signed on any node verifies on any
 * other whatever the feed's lag.
 * A node that first starts while the database is unreachable signs with its own offers.key
 * (provisional) until the fleet's ring reaches it through the feed.
 * Invariants: a published ring node is never changed and lives until offers_wire_destroy;
 * publishing happens on one thread per mode (the writer on an embedded store, the loop on a
 * shared one); a newer stored ring (higher current_id) is never replaced by an older one. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base/readcache.h"
#include "handlers_offers.h"
#include "offers_wire.h"

static int store_is_shared(store_t *st) {
  store_feed_stats_t fs;
  store_feed_stats(st, &fs);
  return fs.shared;
}

/* Publish r as the ring in force (a new node; the old ones stay readable). */
static int publish(struct offers_wire_s *w, const offers_keyring_t *r) {
  offers_ring_node_t *cur = atomic_load(&w->keys), *next = malloc(sizeof *next);
  if (!next) return -1;
  next->ring = *r;
  next->older = cur;
  atomic_store(&w->keys, next);
  return 0;
}

static void log_ring(const char *what, const offers_keyring_t *r) {
  if (r->previous_id)
    log_notice("offers: %s (key %u; key %u accepted until %lld)", what, (unsigned)r->current_id,
               (unsigned)r->previous_id, (long long)(r->rotated_at + r->grace_s));
  else
    log_notice("offers: %s (key %u)", what, (unsigned)r->current_id);
}

/* A shared store's ring: the local copy's, else stored now (see the head comment). */
static int shared_ring(daemon_t *d, offers_keyring_t *out, perr_info_t *e) {
  struct offers_wire_s *w = d->offers;
  int64_t grace = (int64_t)d->cfg.offers_key_grace_s;
  store_txn_t *t;
  if (store_txn_begin(d->store, 0, &t)) return perr_set(e, PERR_UNAVAILABLE, NULL, "cannot read the store");
  int rc = offers_keys_load(t, grace, out, e);
  store_abort(t);
  if (rc != PERR_NOT_FOUND) return rc;
  offers_keyring_t seed;
  perr_info_t fe;
  bool created = false;
  int have_file = offers_keys_open(w->data_dir, false, grace, &seed, &fe) == 0;
  if (store_txn_begin(d->store, 1, &t) == 0) {
    rc = offers_keys_ensure(t, have_file ? &seed : NULL, grace, out, &created, e);
    if (rc) store_abort(t);
    else rc = store_commit_err(t, e);
  } else {
    char why[160];
    store_last_error(d->store, why, sizeof why);
    rc = perr_set(e, PERR_UNAVAILABLE, NULL, "%s", why);
  }
  OPENSSL_cleanse(&seed, sizeof seed);
  if (!rc) {
    log_ring(!created ? "using the fleet's token key ring (another node stored it)"
             : have_file ? "the fleet's token key ring is stored (from offers.key)"
                         : "the fleet's token key ring is stored",
             out);
    return 0;
  }
  /* the database unreachable at a first start: sign with the node's own file ring until the
   * fleet's reaches this node through the feed (docs/SCALEOUT.md section 5) */
  log_warn("offers: cannot store the fleet's token key ring (%s): using %s/%s until it arrives",
           e->message, w->data_dir, OFFERS_KEY_FILE);
  w->keys_provisional = 1;
  return offers_keys_open(w->data_dir, true, grace, out, e);
}

int offers_keys_init(daemon_t *d, perr_info_t *e) {
  struct offers_wire_s *w = d->offers;
  offers_keyring_t r;
  w->shared_keys = store_is_shared(d->store);
  int rc = w->shared_keys ? shared_ring(d, &r, e)
                          : offers_keys_open(w->data_dir, true, (int64_t)d->cfg.offers_key_grace_s,
                                             &r, e);
  if (!rc && publish(w, &r)) rc = perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  OPENSSL_cleanse(&r, sizeof r);
  return rc;
}

void offers_wire_follow_keys(daemon_t *d) {
  struct offers_wire_s *w = d->offers;
  if (!w || !w->shared_keys) return;
  offers_keyring_t r;
  perr_info_t e;
  store_txn_t *t;
  if (store_txn_begin(d->store, 0, &t)) return;
  int rc = offers_keys_load(t, (int64_t)d->cfg.offers_key_grace_s, &r, &e);
  store_abort(t);
  const offers_keyring_t *cur = offers_wire_keys(d);
  if (rc == 0 && (w->keys_provisional || r.current_id > cur->current_id ||
                  (r.current_id == cur->current_id &&
                   CRYPTO_memcmp(r.current, cur->current, OFFERS_KEY_BYTES)))) {
    if (publish(w, &r)) log_err("offers: out of memory installing the fleet's token key ring");
    else {
      w->keys_provisional = 0;
      log_ring("token key ring changed by another node", &r);
      if (d->qcache) rcache_bump(d->qcache);
    }
  } else if (rc && rc != PERR_NOT_FOUND) {
    log_warn("offers: the stored token key ring is not readable: %s", e.message);
  }
  OPENSSL_cleanse(&r, sizeof r);
}

const offers_keyring_t *offers_wire_keys_for_write(exec_ctx_t *x, offers_keyring_t *buf) {
  perr_info_t e;
  if (x->d->offers->shared_keys &&
      offers_keys_load(x->txn, (int64_t)x->d->cfg.offers_key_grace_s, buf, &e) == 0)
    return buf;
  return offers_wire_keys(x->d);
}

/* ---- offers.rotate_key (writer) ---- */

/* After the batch: a shared store's ring is published once committed; cached offers.decide
 * answers carry tokens of the old key (valid for the grace period): drop them so new answers
 * carry the new key at once. */
static void rotated(daemon_t *d, wjob_t *j) {
  offers_keyring_t *r = j->hook_data;
  j->hook_data = NULL;
  if (r && !j->rc && d->offers) {
    if (publish(d->offers, r)) log_err("offers: out of memory installing the rotated key ring");
    else log_ring("token key rotated", r);
  }
  if (r) OPENSSL_cleanse(r, sizeof *r);
  if (!j->rc && d->qcache) rcache_bump(d->qcache);
}

int handle_offers_rotate_key(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  json_t *j = NULL;
  struct offers_wire_s *w = x->d->offers;
  int rc = offers_params_json(p, (const char *const[]){NULL}, &j, e);
  json_decref(j);
  if (rc) return rc;
  offers_keyring_t next, *later = NULL;
  if (w->shared_keys) {
    if (x->job && !(later = arena_alloc(&x->job->arena, sizeof *later)))
      return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
    rc = offers_keys_rotate_stored(x->txn, x->now, offers_wire_keys(x->d), &next, e);
  } else {
    next = *offers_wire_keys(x->d);
    rc = offers_keys_rotate(w->data_dir, x->now, &next, e);
    if (!rc && publish(w, &next)) rc = perr_set(e, PERR_INTERNAL, NULL, "out of memory");
    if (!rc) log_ring("token key rotated", &next);
  }
  if (!rc && later) *later = next;
  if (x->job) x->job->hook_data = later, x->job->on_loop = rotated;
  json_t *out = rc ? NULL
                   : json_pack("{sIsIsI}", "key_id", (json_int_t)next.current_id,
                               "previous_key_id", (json_int_t)next.previous_id,
                               "previous_valid_until",
                               (json_int_t)(next.rotated_at + next.grace_s));
  OPENSSL_cleanse(&next, sizeof next);
  return rc ? rc : offers_answer(x, out, r, e);
}

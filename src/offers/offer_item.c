/* offer_item.c -- one decided offer as offers.decide answers it (offer_item_fill): the
 * candidate's fields, its impression id (the SHA-256 of customer, offer and hour bucket, or
 * random draws from the decision's generator), the reason in words, and the signed token.
 * Invariants: the reason is exactly what snprintf with the documented format writes (128
 * bytes, truncated alike); the token signs the same bytes offers_token_encode_with would for
 * these fields (a version 2 token); nothing here reads the store. */
#include <stdio.h>

#include "experiments/bandit.h"
#include "offers/offers_internal.h"

/* v in decimal into out (at least 21 bytes), NUL-terminated: what "%lld" prints. */
static void decimal(int64_t v, char *out) {
  char tmp[24];
  int n = 0;
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  do tmp[n++] = (char)('0' + u % 10); while ((u /= 10));
  if (v < 0) *out++ = '-';
  for (int i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  out[n] = 0;
}

/* The two lowercase hex digits of each byte value. */
static const char HEX2[256][2] = {
#define H4(a) {a, '0'}, {a, '1'}, {a, '2'}, {a, '3'}, {a, '4'}, {a, '5'}, {a, '6'}, {a, '7'}, \
              {a, '8'}, {a, '9'}, {a, 'a'}, {a, 'b'}, {a, 'c'}, {a, 'd'}, {a, 'e'}, {a, 'f'}
    H4('0'), H4('1'), H4('2'), H4('3'), H4('4'), H4('5'), H4('6'), H4('7'),
    H4('8'), H4('9'), H4('a'), H4('b'), H4('c'), H4('d'), H4('e'), H4('f')
#undef H4
};

/* The impression id into out (32 lowercase hex digits) and the 16 bytes they stand for
 * into h[0..16). */
static void impression_id(const offers_decide_in_t *in, const offer_t *o, draws_t *rng,
                          char out[33], unsigned char h[32]) {
  if (in->random_ids) {
    bandit_rng_t *r = draws_rng(rng);
    for (int i = 0; i < 16; i++) h[i] = (unsigned char)(bandit_uniform(r) * 256.0);
  } else {
    char bucket[24];
    decimal(in->now / 3600, bucket);
    const char *parts[3] = {in->customer, o->id, bucket};
    offer_sha256_with(in->signer, parts, 3, h);
  }
  for (int i = 0; i < 16; i++) memcpy(out + 2 * i, HEX2[h[i]], 2);
  out[32] = 0;
}

/* s as a token field of an offers_token_t array of cap bytes (truncated like snprintf "%s",
 * as offers_token_encode_with would read it). */
static pstr_t token_str(const char *s, size_t n, size_t cap) { /* n = strlen(s) */
  return core_pstr(s, n < cap ? n : cap - 1);
}

/* Appends the n bytes of s at *p. */
static void put(char **p, const char *s, size_t n) {
  memcpy(*p, s, n);
  *p += n;
}

/* What snprintf(out, 128, "eligible; %s arm '%.40s'; expected value %.0f, uplift %.4f",
 * mode, variant, ev, uplift) writes, without printf (offers_format_fixed). */
static void eligible_reason(const offer_t *o, const char *variant, const cand_t *c,
                            char out[128]) {
  const char *mode = o->mode == OFFER_MODE_BANDIT && o->nvariants > 1 ? "bandit" : "ab";
  char text[256], *p = text, ev[32], uplift[32];
  size_t vn = strlen(variant), evn = offers_format_fixed(ev, c->ev, 0),
         un = offers_format_fixed(uplift, c->uplift, 4);
  if (!evn || !un) { /* a value only printf prints */
    snprintf(out, 128, "eligible; %s arm '%.40s'; expected value %.0f, uplift %.4f", mode,
             variant, c->ev, c->uplift);
    return;
  }
  put(&p, "eligible; ", 10);
  put(&p, mode, strlen(mode));
  put(&p, " arm '", 6);
  put(&p, variant, vn < 40 ? vn : 40);
  put(&p, "'; expected value ", 18);
  put(&p, ev, evn);
  put(&p, ", uplift ", 9);
  put(&p, uplift, un);
  size_t n = (size_t)(p - text);
  if (n > 127) n = 127; /* snprintf's truncation */
  memcpy(out, text, n);
  out[n] = 0;
}

int offer_item_fill(const offers_decide_in_t *in, size_t customer_len, const cand_t *c,
                    draws_t *rng, offers_decided_t *d, perr_info_t *e) {
  const offer_t *o = c->o;
  d->token[0] = 0; /* every other field is set below (no memset of the 700-byte item) */
  d->offer_id = o->id;
  d->arm = c->arm;
  d->held_out = c->arm == 0;
  d->variant = c->arm ? o->variants[c->arm - 1].id : NULL;
  d->value = c->value;
  d->discount = c->discount;
  d->currency = o->currency;
  d->expected_value = c->ev;
  d->uplift = c->uplift;
  unsigned char raw[32];
  impression_id(in, o, rng, d->impression_id, raw);
  d->expires = in->now + o->token_ttl_s;
  if (o->valid_until && d->expires > o->valid_until) d->expires = o->valid_until;
  if (d->held_out) {
    snprintf(d->reason, sizeof d->reason, "holdout: control arm, not shown");
    return 0;
  }
  eligible_reason(o, d->variant, c, d->reason);
  if (!in->keys) return 0;
  /* the token of these fields (what offers_token_encode_with signs for an offers_token_t
   * holding them; the impression id is the hex of raw[0..16): a version 2 token) */
#define TOKEN_CAP(field) sizeof(((offers_token_t *)NULL)->field)
  offer_token_fields_t f = {token_str(o->id, o->id_len, TOKEN_CAP(offer_id)),
                            token_str(in->customer, customer_len, TOKEN_CAP(customer)),
                            token_str(o->currency, 3, TOKEN_CAP(currency)), /* validated */
                            core_pstr(d->impression_id, 32),
                            raw,
                            c->value,
                            d->expires,
                            c->arm};
#undef TOKEN_CAP
  return offer_token_sign(in->signer, in->keys, &f, d->token, e);
}

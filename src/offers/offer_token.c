/* offer_token.c -- offer tokens. A token is base64url (no padding) of
 *   'T' version be32(key_id) str(offer_id) str(customer) sv(value) str(currency)
 *   sv(expires) str(impression) uv(arm) || HMAC-SHA256(key, everything before)
 * (strings as record.h varint-length strings); the keys are offer_keys.c's ring. Version 2
 * (an impression id of 32 lowercase hex digits, as offers_decide makes them) carries the
 * id's 16 bytes, version 1 its text: 16 bytes less to hash, so a token of short ids is one
 * SHA-256 block fewer. Both verify (version 1 is every token made before version 2).
 * A signer (one per thread) keeps the fetched HMAC and SHA-256 and the last key it used,
 * hashed into its pads (offer_sha.c; or an EVP_MAC context keyed with it): a token costs the
 * hashing, not the algorithm fetch nor OpenSSL 3's context copies. Tokens are verified
 * through EVP_MAC.
 * Invariants: the MAC is compared in constant time before any field is trusted; a refusal
 * says why (malformed, bad signature, retired key, expired, another customer); a signer's
 * output is byte-identical to a fresh fetch's. */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

#include "offers/offers_internal.h"

#define MAC_BYTES 32

const char *offers_refusal_name(offers_refusal_t r) {
  static const char *const names[] = {
      "ok", "token_malformed", "token_bad_signature", "token_key_retired", "token_expired",
      "token_wrong_customer", "offer_inactive", "cart_mismatch", "budget_exhausted",
      "cap_reached", "idempotency_conflict", "token_used"};
  return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "internal";
}

/* ---- HMAC and base64url ------------------------------------------------------------ */

static int hmac(const unsigned char *key, const unsigned char *msg, size_t n,
                unsigned char out[MAC_BYTES]) {
  EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                         OSSL_PARAM_construct_end()};
  size_t len = 0;
  int ok = ctx && EVP_MAC_init(ctx, key, OFFERS_KEY_BYTES, params) &&
           EVP_MAC_update(ctx, msg, n) && EVP_MAC_final(ctx, out, &len, MAC_BYTES) &&
           len == MAC_BYTES;
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  return ok ? 0 : -1;
}

/* ---- the per-thread signer: fetched algorithms and a keyed HMAC context, reused ---- */

struct offers_signer_s {
  EVP_MAC *mac;
  EVP_MAC_CTX *ctx;                    /* keyed with key (when keyed) */
  offer_hmac_key_t *fast;              /* the same key's pads (offer_sha.c), or NULL */
  int keyed;
  unsigned char key[OFFERS_KEY_BYTES];
  EVP_MD *sha256;
  EVP_MD_CTX *md;
};

offers_signer_t *offers_signer_new(void) {
  offers_signer_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  s->ctx = s->mac ? EVP_MAC_CTX_new(s->mac) : NULL;
  s->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  s->md = EVP_MD_CTX_new();
  s->fast = offer_hmac_key_new(); /* NULL: EVP_MAC signs (an OpenSSL without the calls) */
  if (!s->ctx || !s->sha256 || !s->md) {
    offers_signer_free(s);
    return NULL;
  }
  return s;
}

void offers_signer_free(offers_signer_t *s) {
  if (!s) return;
  EVP_MAC_CTX_free(s->ctx);
  EVP_MAC_free(s->mac);
  EVP_MD_CTX_free(s->md);
  EVP_MD_free(s->sha256);
  offer_hmac_key_free(s->fast);
  OPENSSL_cleanse(s->key, sizeof s->key);
  free(s);
}

/* Whether two keys are equal, in constant time: the OR of four 64-bit XORs (what
 * CRYPTO_memcmp answers, without its byte loop: it ran once per token). */
_Static_assert(OFFERS_KEY_BYTES % 8 == 0, "same_key compares 8 bytes at a time");
static bool same_key(const unsigned char *a, const unsigned char *b) {
  uint64_t d = 0;
  for (size_t i = 0; i < OFFERS_KEY_BYTES; i += 8) {
    uint64_t x, y;
    memcpy(&x, a + i, 8);
    memcpy(&y, b + i, 8);
    d |= x ^ y;
  }
  return d == 0;
}

/* HMAC-SHA256 through the signer: keyed once per key, then every message from the key's
 * hashed pads (offer_sha.c), or, without those calls, the EVP_MAC context re-initialised
 * (EVP_MAC_init with no key keeps the key's inner and outer pads). */
static int hmac_with(offers_signer_t *s, const unsigned char *key, const unsigned char *msg,
                     size_t n, unsigned char out[MAC_BYTES]) {
  if (!s) return hmac(key, msg, n, out);
  if (s->fast) {
    if (!s->keyed || !same_key(s->key, key)) {
      offer_hmac_key_set(s->fast, key);
      memcpy(s->key, key, OFFERS_KEY_BYTES);
      s->keyed = 1;
    }
    offer_hmac_sign(s->fast, msg, n, out);
    return 0;
  }
  size_t len = 0;
  int ok;
  if (s->keyed && same_key(s->key, key)) {
    ok = EVP_MAC_init(s->ctx, NULL, 0, NULL);
  } else {
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_end()};
    s->keyed = 0;
    ok = EVP_MAC_init(s->ctx, key, OFFERS_KEY_BYTES, params);
    if (ok) memcpy(s->key, key, OFFERS_KEY_BYTES), s->keyed = 1;
  }
  ok = ok && EVP_MAC_update(s->ctx, msg, n) && EVP_MAC_final(s->ctx, out, &len, MAC_BYTES) &&
       len == MAC_BYTES;
  if (!ok) s->keyed = 0;
  return ok ? 0 : -1;
}

void offer_sha256_with(offers_signer_t *s, const char *const *parts, int n,
                       unsigned char out[32]) {
  unsigned int len = 32;
  if (s && s->fast && offer_sha256_fast(parts, n, out) == 0) return;
  if (!s || !EVP_DigestInit_ex(s->md, s->sha256, NULL)) {
    offer_sha256(parts, n, out);
    return;
  }
  char buf[512]; /* the parts with their NULs, in one update when they fit */
  size_t used = 0;
  for (int i = 0; i < n; i++) {
    const char *p = parts[i] ? parts[i] : "";
    size_t pn = strlen(p) + 1;
    if (used + pn > sizeof buf) { /* the bytes hashed are the same either way */
      EVP_DigestUpdate(s->md, buf, used);
      used = 0;
    }
    if (pn > sizeof buf) EVP_DigestUpdate(s->md, p, pn);
    else memcpy(buf + used, p, pn), used += pn;
  }
  if (used) EVP_DigestUpdate(s->md, buf, used);
  EVP_DigestFinal_ex(s->md, out, &len);
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The two characters of each 12-bit value (B64[v >> 6], B64[v & 63]): a group of 3 bytes is
 * two lookups. */
#define B64C(v) ((v) < 26 ? 'A' + (v) : (v) < 52 ? 'a' + (v) - 26 : (v) < 62 ? '0' + (v) - 52 \
                 : (v) == 62 ? '-' : '_')
#define B64P(v) {(char)B64C((v) >> 6), (char)B64C((v) & 63)}
#define B64P4(v) B64P(v), B64P((v) + 1), B64P((v) + 2), B64P((v) + 3)
#define B64P16(v) B64P4(v), B64P4((v) + 4), B64P4((v) + 8), B64P4((v) + 12)
#define B64P64(v) B64P16(v), B64P16((v) + 16), B64P16((v) + 32), B64P16((v) + 48)
#define B64P256(v) B64P64(v), B64P64((v) + 64), B64P64((v) + 128), B64P64((v) + 192)
#define B64P1024(v) B64P256(v), B64P256((v) + 256), B64P256((v) + 512), B64P256((v) + 768)
static const char B64PAIR[4096][2] = {B64P1024(0), B64P1024(1024), B64P1024(2048),
                                      B64P1024(3072)};
#undef B64P1024
#undef B64P256
#undef B64P64
#undef B64P16
#undef B64P4
#undef B64P
#undef B64C

static size_t b64url_encode(const unsigned char *in, size_t n, char *out) {
  size_t o = 0, i = 0;
  for (; i + 3 <= n; i += 3) { /* whole groups: four characters each */
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    memcpy(out + o, B64PAIR[v >> 12], 2);
    memcpy(out + o + 2, B64PAIR[v & 4095], 2);
    o += 4;
  }
  if (i < n) { /* 1 or 2 bytes left: 2 or 3 characters, no padding */
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
    out[o++] = B64[v >> 18];
    out[o++] = B64[v >> 12 & 63];
    if (i + 1 < n) out[o++] = B64[v >> 6 & 63];
  }
  out[o] = 0;
  return o;
}

static int b64val(char c) {
  const char *p = c ? strchr(B64, c) : NULL;
  return p ? (int)(p - B64) : -1;
}

/* -1 on a bad character, a bad length or nonzero trailing bits (one token, one text). */
static long b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap) {
  if (n % 4 == 1 || n / 4 * 3 + 3 > cap) return -1;
  size_t o = 0;
  for (size_t i = 0; i < n; i += 4) {
    size_t k = n - i < 4 ? n - i : 4;
    uint32_t v = 0;
    for (size_t j = 0; j < 4; j++) {
      int d = j < k ? b64val(in[i + j]) : 0;
      if (d < 0) return -1;
      v = v << 6 | (uint32_t)d;
    }
    if ((k == 2 && (v & 0xffff)) || (k == 3 && (v & 0xff))) return -1;
    out[o++] = (unsigned char)(v >> 16);
    if (k > 2) out[o++] = (unsigned char)(v >> 8);
    if (k > 3) out[o++] = (unsigned char)v;
  }
  return (long)o;
}

/* ---- tokens ------------------------------------------------------------------------ */

#define IMPRESSION_RAW 16 /* a version 2 token's impression id: 16 bytes, 32 hex digits */

/* A lowercase hex digit's value plus one; 0 for any other byte. */
static const unsigned char HEX1[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,
    ['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
    ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16};

/* Whether id is 32 lowercase hex digits, into raw (the id a version 2 token carries). */
static bool impression_raw(const char *id, size_t n, unsigned char raw[IMPRESSION_RAW]) {
  if (n != 2 * IMPRESSION_RAW) return false;
  unsigned bad = 0;
  for (size_t i = 0; i < IMPRESSION_RAW; i++) {
    unsigned hi = HEX1[(unsigned char)id[2 * i]], lo = HEX1[(unsigned char)id[2 * i + 1]];
    bad |= (hi == 0) | (lo == 0);
    raw[i] = (unsigned char)((hi - 1) << 4 | (lo - 1));
  }
  return !bad;
}

int offers_token_encode(const offers_keyring_t *ring, const offers_token_t *tk, char *out,
                        perr_info_t *e) {
  return offers_token_encode_with(NULL, ring, tk, out, e);
}

int offers_token_encode_with(offers_signer_t *signer, const offers_keyring_t *ring,
                             const offers_token_t *tk, char *out, perr_info_t *e) {
  unsigned char raw[IMPRESSION_RAW];
  size_t in = strlen(tk->impression_id);
  offer_token_fields_t f = {core_pstr(tk->offer_id, strlen(tk->offer_id)),
                            core_pstr(tk->customer, strlen(tk->customer)),
                            core_pstr(tk->currency, strlen(tk->currency)),
                            core_pstr(tk->impression_id, in),
                            impression_raw(tk->impression_id, in, raw) ? raw : NULL,
                            tk->value, tk->expires, tk->arm};
  return offer_token_sign(signer, ring, &f, out, e);
}

int offer_token_sign(offers_signer_t *signer, const offers_keyring_t *ring,
                     const offer_token_fields_t *f, char *out, perr_info_t *e) {
  rec_buf_t b;
  unsigned char kid[4], mac[MAC_BYTES], local[512];
  bool v2 = f->impression_raw != NULL;
  size_t in = v2 ? IMPRESSION_RAW : f->impression.n;
  /* at most: tag, version, kid, four strings with 10-byte lengths, three 10-byte numbers and
   * the MAC; when that fits, the record is written on the stack (the puts never grow it) */
  size_t bound = 2 + 4 + (f->offer_id.n + f->customer.n + f->currency.n + in + 4 * 10) +
                 3 * 10 + MAC_BYTES;
  rec_buf_init(&b);
  if (bound <= sizeof local) b.p = local, b.cap = sizeof local;
  rec_put_u8(&b, 'T');
  rec_put_u8(&b, v2 ? 2 : 1);
  offer_put_be(kid, ring->current_id, 4);
  rec_put_raw(&b, kid, 4);
  rec_put_str(&b, f->offer_id);
  rec_put_str(&b, f->customer);
  rec_put_sv(&b, f->value);
  rec_put_str(&b, f->currency);
  rec_put_sv(&b, f->expires);
  rec_put_str(&b, v2 ? core_pstr((const char *)f->impression_raw, IMPRESSION_RAW) : f->impression);
  rec_put_uv(&b, (uint64_t)f->arm);
  int rc = 0;
  if (b.oom || hmac_with(signer, ring->current, b.p, b.n, mac))
    rc = perr_set(e, PERR_INTERNAL, NULL, "cannot sign the offer token");
  else
    rec_put_raw(&b, mac, MAC_BYTES);
  if (!rc && (b.oom || (b.n + 2) / 3 * 4 >= OFFERS_TOKEN_MAX))
    rc = perr_set(e, PERR_INVALID_PARAMS, "token", "offer token too long");
  if (!rc) b64url_encode(b.p, b.n, out);
  if (b.p != local) rec_buf_free(&b);
  return rc;
}

static int refuse(offers_refusal_t r, offers_refusal_t *why, perr_info_t *e, const char *msg) {
  if (why) *why = r;
  return perr_set(e, PERR_FORBIDDEN, "token", "%s: %s", offers_refusal_name(r), msg);
}

static int copy_str(pstr_t s, char *out, size_t cap) {
  if (s.n >= cap || memchr(s.p, 0, s.n)) return -1;
  memcpy(out, s.p, s.n);
  out[s.n] = 0;
  return 0;
}

int offers_token_verify(const offers_keyring_t *ring, const char *text, const char *customer,
                        int64_t now, offers_token_t *out, offers_refusal_t *why,
                        perr_info_t *e) {
  unsigned char raw[OFFERS_TOKEN_MAX], mac[MAC_BYTES];
  size_t tn = text ? strlen(text) : 0;
  long n = tn < OFFERS_TOKEN_MAX ? b64url_decode(text, tn, raw, sizeof raw) : -1;
  if (n < 6 + MAC_BYTES || raw[0] != 'T' || (raw[1] != 1 && raw[1] != 2))
    return refuse(OFFERS_TOKEN_MALFORMED, why, e, "not an offer token");
  size_t body = (size_t)n - MAC_BYTES;
  uint32_t kid = (uint32_t)offer_get_be(raw + 2, 4);
  const unsigned char *key = NULL;
  bool retired = false;
  if (kid == ring->current_id) key = ring->current;
  else if (ring->previous_id && kid == ring->previous_id) {
    key = ring->previous;
    retired = now >= ring->rotated_at + ring->grace_s;
  }
  if (!key) return refuse(OFFERS_TOKEN_BAD_SIGNATURE, why, e, "signed with an unknown key");
  if (hmac(key, raw, body, mac)) return perr_set(e, PERR_INTERNAL, "token", "HMAC failed");
  if (CRYPTO_memcmp(mac, raw + body, MAC_BYTES))
    return refuse(OFFERS_TOKEN_BAD_SIGNATURE, why, e, "the signature does not match");
  if (retired) return refuse(OFFERS_TOKEN_KEY_RETIRED, why, e, "signed with a retired key");
  rec_rd_t rd;
  offers_token_t tk;
  memset(&tk, 0, sizeof tk);
  rec_rd_init(&rd, raw + 6, body - 6);
  int bad = copy_str(rec_get_str(&rd), tk.offer_id, sizeof tk.offer_id);
  bad |= copy_str(rec_get_str(&rd), tk.customer, sizeof tk.customer);
  tk.value = rec_get_sv(&rd);
  bad |= copy_str(rec_get_str(&rd), tk.currency, sizeof tk.currency);
  tk.expires = rec_get_sv(&rd);
  pstr_t imp = rec_get_str(&rd);
  if (raw[1] == 1) {
    bad |= copy_str(imp, tk.impression_id, sizeof tk.impression_id);
  } else if (imp.n == IMPRESSION_RAW) { /* version 2: the id's bytes, back to its hex text */
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < IMPRESSION_RAW; i++) {
      unsigned char c = (unsigned char)imp.p[i];
      tk.impression_id[2 * i] = hex[c >> 4];
      tk.impression_id[2 * i + 1] = hex[c & 15];
    }
    tk.impression_id[2 * IMPRESSION_RAW] = 0;
  } else {
    bad = 1;
  }
  uint64_t arm = rec_get_uv(&rd);
  if (bad || !rec_rd_done(&rd) || arm >= OFFERS_MAX_ARMS)
    return refuse(OFFERS_TOKEN_MALFORMED, why, e, "the token's fields do not parse");
  tk.arm = (int)arm;
  if (now >= tk.expires) return refuse(OFFERS_TOKEN_EXPIRED, why, e, "the token has expired");
  if (!customer || strcmp(customer, tk.customer))
    return refuse(OFFERS_TOKEN_WRONG_CUSTOMER, why, e, "the token belongs to another customer");
  if (why) *why = OFFERS_OK;
  if (out) *out = tk;
  return 0;
}

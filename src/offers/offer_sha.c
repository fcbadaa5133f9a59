/* offer_sha.c -- the decision path's SHA-256 and HMAC-SHA256 without OpenSSL 3's per-call
 * context copies: OpenSSL's own SHA-256 (SHA256_Init/Update/Final, the block function with
 * SHA-NI where the CPU has it) on contexts that are plain structs, so a keyed HMAC is two
 * saved states (the key's inner and outer pads hashed once, RFC 2104) copied by assignment.
 * EVP_MAC_init/update/final costs about 350 ns a token here, this about 190 ns; EVP's
 * SHA-256 of an impression id about 120 ns, this about 70 (bench/offers_sign_bench, BENCHMARKS
 * §22). Everything else keeps EVP: offers.redeem verifies every token with EVP_MAC, and
 * tests compare both paths byte for byte (test_offers_answer.c: test_fast_sha and
 * test_token_versions).
 * The low-level calls are deprecated in OpenSSL 3.0 (still built and exported by every 3.x);
 * their warnings are silenced in this file only. A library built without them
 * (OPENSSL_NO_DEPRECATED_3_0) gives offer_hmac_key_new() NULL and offer_sha256_fast -1: the
 * callers then take the EVP path.
 * Invariant: output is exactly HMAC-SHA256(key, msg) and SHA-256 of the parts with their NULs. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "offers/offers_internal.h"

#ifndef OPENSSL_NO_DEPRECATED_3_0
_Static_assert(OFFERS_KEY_BYTES <= SHA256_CBLOCK, "a key fits one block: no key hashing");

struct offer_hmac_key_s {
  SHA256_CTX inner, outer; /* after the key's ipad and opad blocks */
};

offer_hmac_key_t *offer_hmac_key_new(void) { return calloc(1, sizeof(offer_hmac_key_t)); }

void offer_hmac_key_free(offer_hmac_key_t *k) {
  if (!k) return;
  OPENSSL_cleanse(k, sizeof *k);
  free(k);
}

void offer_hmac_key_set(offer_hmac_key_t *k, const unsigned char key[OFFERS_KEY_BYTES]) {
  unsigned char pad[SHA256_CBLOCK];
  memset(pad, 0x36, sizeof pad);
  for (int i = 0; i < OFFERS_KEY_BYTES; i++) pad[i] ^= key[i];
  SHA256_Init(&k->inner);
  SHA256_Update(&k->inner, pad, sizeof pad);
  memset(pad, 0x5c, sizeof pad);
  for (int i = 0; i < OFFERS_KEY_BYTES; i++) pad[i] ^= key[i];
  SHA256_Init(&k->outer);
  SHA256_Update(&k->outer, pad, sizeof pad);
  OPENSSL_cleanse(pad, sizeof pad);
}

void offer_hmac_sign(const offer_hmac_key_t *k, const unsigned char *msg, size_t n,
                     unsigned char out[32]) {
  SHA256_CTX c = k->inner;
  unsigned char inner[SHA256_DIGEST_LENGTH];
  SHA256_Update(&c, msg, n);
  SHA256_Final(inner, &c);
  c = k->outer;
  SHA256_Update(&c, inner, sizeof inner);
  SHA256_Final(out, &c);
  OPENSSL_cleanse(&c, sizeof c);
}

int offer_sha256_fast(const char *const *parts, int n, unsigned char out[32]) {
  SHA256_CTX c;
  SHA256_Init(&c);
  for (int i = 0; i < n; i++) {
    const char *p = parts[i] ? parts[i] : "";
    SHA256_Update(&c, p, strlen(p) + 1);
  }
  SHA256_Final(out, &c);
  return 0;
}

#else /* no low-level SHA-256 in this OpenSSL: the EVP path everywhere */

offer_hmac_key_t *offer_hmac_key_new(void) { return NULL; }
void offer_hmac_key_free(offer_hmac_key_t *k) { (void)k; }
void offer_hmac_key_set(offer_hmac_key_t *k, const unsigned char key[OFFERS_KEY_BYTES]) {
  (void)k, (void)key;
}
void offer_hmac_sign(const offer_hmac_key_t *k, const unsigned char *msg, size_t n,
                     unsigned char out[32]) {
  (void)k, (void)msg, (void)n, (void)out;
}
int offer_sha256_fast(const char *const *parts, int n, unsigned char out[32]) {
  (void)parts, (void)n, (void)out;
  return -1;
}
#endif

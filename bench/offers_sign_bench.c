/* offers_sign_bench.c -- what signing an offer token and hashing an impression id cost, in
 * process: the signer's path (offers_token_encode_with: the token's bytes, HMAC-SHA256 from the
 * key's hashed pads in offer_sha.c, base64url) against the OpenSSL 3 EVP calls it replaced,
 * on the same messages.
 *
 * Owns: five timed loops of N iterations each, repeated RUNS times (median ns per call):
 *   evp_mac_reinit   EVP_MAC keyed once, then EVP_MAC_init(NULL)/update/final per message
 *                    (the signer before offer_sha.c), 110-byte messages (a token's body)
 *   lowlevel_hmac    the same HMAC from two saved SHA256_CTX pads (what offer_sha.c does)
 *   signer_token     a whole token through offers_token_encode_with (fields to base64url)
 *   evp_sha256_40    EVP_DigestInit_ex2/Update/Final on a reused context, 40 bytes (an
 *                    impression id's customer, offer and hour before offer_sha.c)
 *   lowlevel_sha256  SHA256_Init/Update/Final on the same 40 bytes
 * and checks that the two HMACs and the two hashes agree (exit 1 otherwise).
 * Invariants: the message changes every iteration (no result is reused); nothing else runs.
 *
 *   offers_sign_bench [N=500000] [RUNS=5]                               */
/* SHA256_Init/Update/Final: deprecated in OpenSSL 3.0, silenced as in offer_sha.c */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "offers/offers.h"

enum { RUNS_MAX = 15 };
static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The two HMACs compared: EVP_MAC re-initialised (keyed once), and the saved pads. */
static void evp_mac_reinit(EVP_MAC_CTX *m, const unsigned char *msg, size_t n,
                           unsigned char out[32]) {
  size_t len;
  EVP_MAC_init(m, NULL, 0, NULL);
  EVP_MAC_update(m, msg, n);
  EVP_MAC_final(m, out, &len, 32);
}
static void lowlevel_hmac(const SHA256_CTX *in_pad, const SHA256_CTX *out_pad,
                          const unsigned char *msg, size_t n, unsigned char out[32]) {
  SHA256_CTX c = *in_pad;
  SHA256_Update(&c, msg, n);
  SHA256_Final(out, &c);
  c = *out_pad;
  SHA256_Update(&c, out, 32);
  SHA256_Final(out, &c);
}
static void evp_sha256(EVP_MD_CTX *d, const EVP_MD *md, const unsigned char *msg, size_t n,
                       unsigned char out[32]) {
  unsigned int len;
  EVP_DigestInit_ex2(d, md, NULL);
  EVP_DigestUpdate(d, msg, n);
  EVP_DigestFinal_ex(d, out, &len);
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 500000;
  int runs = argc > 2 ? atoi(argv[2]) : 5;
  if (n < 1000 || runs < 1 || runs > RUNS_MAX) {
    fprintf(stderr, "usage: offers_sign_bench [N>=1000] [RUNS 1..%d]\n", RUNS_MAX);
    return 2;
  }
  unsigned char key[OFFERS_KEY_BYTES], msg[110], a[32], b[32], ipad[64], opad[64];
  for (int i = 0; i < OFFERS_KEY_BYTES; i++) key[i] = (unsigned char)(i * 37 + 11);
  for (size_t i = 0; i < sizeof msg; i++) msg[i] = (unsigned char)(i * 7);
  memset(ipad, 0x36, sizeof ipad);
  memset(opad, 0x5c, sizeof opad);
  for (int i = 0; i < OFFERS_KEY_BYTES; i++) ipad[i] ^= key[i], opad[i] ^= key[i];
  EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX *mctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
  EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
  EVP_MD_CTX *dctx = EVP_MD_CTX_new();
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                         OSSL_PARAM_construct_end()};
  offers_signer_t *signer = offers_signer_new();
  if (!mctx || !md || !dctx || !signer || !EVP_MAC_init(mctx, key, sizeof key, params)) {
    fprintf(stderr, "offers_sign_bench: OpenSSL set-up failed\n");
    return 1;
  }
  SHA256_CTX in_pad, out_pad, c;
  SHA256_Init(&in_pad);
  SHA256_Update(&in_pad, ipad, sizeof ipad);
  SHA256_Init(&out_pad);
  SHA256_Update(&out_pad, opad, sizeof opad);
  offers_keyring_t ring;
  memset(&ring, 0, sizeof ring);
  ring.current_id = 1;
  memcpy(ring.current, key, sizeof key);
  offers_token_t tk;
  memset(&tk, 0, sizeof tk);
  strcpy(tk.offer_id, "bench-03");
  strcpy(tk.customer, "c-001500");
  strcpy(tk.currency, "EUR");
  strcpy(tk.impression_id, "0123456789abcdef0123456789abcdef");
  tk.value = 1000;
  tk.arm = 1;
  static const char *const names[] = {"evp_mac_reinit", "lowlevel_hmac", "signer_token",
                                      "evp_sha256_40", "lowlevel_sha256"};
  double ns[5][RUNS_MAX];
  int agree = 1;
  for (int r = 0; r < runs; r++) {
    for (int k = 0; k < 5; k++) {
      uint64_t t0 = clock_mono_ns();
      for (long i = 0; i < n; i++) {
        msg[0] = (unsigned char)i, msg[1] = (unsigned char)(i >> 8);
        char token[OFFERS_TOKEN_MAX];
        perr_info_t e;
        switch (k) {
        case 0: evp_mac_reinit(mctx, msg, sizeof msg, a); break;
        case 1: lowlevel_hmac(&in_pad, &out_pad, msg, sizeof msg, b); break;
        case 2:
          tk.expires = 1800000000 + i;
          if (offers_token_encode_with(signer, &ring, &tk, token, &e)) agree = 0;
          break;
        case 3: evp_sha256(dctx, md, msg, 40, a); break;
        default:
          SHA256_Init(&c);
          SHA256_Update(&c, msg, 40);
          SHA256_Final(b, &c);
        }
      }
      ns[k][r] = (double)(clock_mono_ns() - t0) / (double)n;
    }
    /* the last message of the loops above, both ways */
    evp_mac_reinit(mctx, msg, sizeof msg, a);
    lowlevel_hmac(&in_pad, &out_pad, msg, sizeof msg, b);
    agree &= !memcmp(a, b, 32);
    evp_sha256(dctx, md, msg, 40, a);
    SHA256(msg, 40, b);
    agree &= !memcmp(a, b, 32);
  }
  printf("# offers_sign_bench N=%ld RUNS=%d: median ns per call\n", n, runs);
  for (int k = 0; k < 5; k++) {
    qsort(ns[k], (size_t)runs, sizeof ns[k][0], cmp_double);
    printf("%-16s %8.1f\n", names[k], ns[k][runs / 2]);
  }
  EVP_MAC_CTX_free(mctx);
  EVP_MAC_free(mac);
  EVP_MD_CTX_free(dctx);
  EVP_MD_free(md);
  offers_signer_free(signer);
  if (!agree) fprintf(stderr, "offers_sign_bench: the two paths disagree\n");
  return agree ? 0 : 1;
}

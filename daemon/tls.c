/* tls.c -- the TLS listener's OpenSSL side (see tls.h): the server context (TLS 1.3 only,
 * client certificates required and verified against [tls] ca), its reload, and per-connection
 * sessions on memory BIOs. Everything runs on the loop thread, so the ciphertext buffers are
 * shared by all sessions (each is emptied before the next session uses it).
 * Invariants: no session ever reads or writes a socket; a session made before a reload keeps
 * the context it was made with until it is freed; OpenSSL's error queue is cleared before
 * each operation so a message describes that operation. */
#include "tls.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define TLS_RX_BYTES (64 * 1024)
#define TLS_SUBJECT_MAX 512

struct tls_server_s {
  SSL_CTX *ctx;  /* for new connections; older sessions hold a reference to theirs */
  char *tx;      /* ciphertext handed out by tls_conn_seal */
  size_t tx_cap;
  char rx[TLS_RX_BYTES];
};

struct tls_conn_s {
  tls_server_t *srv;
  SSL *ssl;
  BIO *rbio, *wbio; /* owned by ssl */
  int established, failed;
  char subject[TLS_SUBJECT_MAX]; /* the verified client certificate's, RFC 2253 */
  char err[200];
};

/* The last OpenSSL error as text, after what. */
static void openssl_error(char *err, size_t errlen, const char *what, const char *path) {
  char buf[256] = "";
  unsigned long e = ERR_peek_error(); /* the first: the cause (e.g. no such file) */
  if (e) ERR_error_string_n(e, buf, sizeof buf);
  snprintf(err, errlen, "%s %s: %s", what, path, buf[0] ? buf : "failed");
  ERR_clear_error();
}

static SSL_CTX *make_ctx(const settings_t *cfg, char *err, size_t errlen) {
  ERR_clear_error();
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) {
    openssl_error(err, errlen, "cannot create a TLS context", "");
    return NULL;
  }
  STACK_OF(X509_NAME) *names = NULL;
  if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION)) {
    openssl_error(err, errlen, "cannot require TLS 1.3", "");
    goto fail;
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
    openssl_error(err, errlen, "tls.cert: cannot load", cfg->tls_cert);
    goto fail;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1) {
    openssl_error(err, errlen, "tls.key: cannot load", cfg->tls_key);
    goto fail;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    openssl_error(err, errlen, "tls.key does not match tls.cert:", cfg->tls_key);
    goto fail;
  }
  if (SSL_CTX_load_verify_locations(ctx, cfg->tls_ca, NULL) != 1) {
    openssl_error(err, errlen, "tls.ca: cannot load", cfg->tls_ca);
    goto fail;
  }
  names = SSL_load_client_CA_file(cfg->tls_ca); /* told to clients in CertificateRequest */
  if (!names) {
    openssl_error(err, errlen, "tls.ca: no CA certificate in", cfg->tls_ca);
    goto fail;
  }
  SSL_CTX_set_client_CA_list(ctx, names);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  /* no resumption: every connection shows its certificate; nothing to send after the
   * handshake, no ticket keys to rotate */
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  return ctx;
fail:
  SSL_CTX_free(ctx);
  return NULL;
}

tls_server_t *tls_server_new(const settings_t *cfg, char *err, size_t errlen) {
  tls_server_t *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  s->ctx = make_ctx(cfg, err, errlen);
  if (!s->ctx) {
    free(s);
    return NULL;
  }
  return s;
}

int tls_server_reload(tls_server_t *s, const settings_t *cfg, char *err, size_t errlen) {
  SSL_CTX *ctx = make_ctx(cfg, err, errlen);
  if (!ctx) return -1;
  SSL_CTX_free(s->ctx); /* sessions made with it keep their reference */
  s->ctx = ctx;
  return 0;
}

void tls_server_free(tls_server_t *s) {
  if (!s) return;
  SSL_CTX_free(s->ctx);
  free(s->tx);
  free(s);
}

void tls_server_describe(const tls_server_t *s, char *out, size_t outlen) {
  X509 *x = SSL_CTX_get0_certificate(s->ctx);
  snprintf(out, outlen, "(no certificate)");
  if (!x) return;
  char subject[TLS_SUBJECT_MAX] = "";
  BIO *b = BIO_new(BIO_s_mem());
  if (b && X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
    int n = BIO_read(b, subject, sizeof subject - 1);
    subject[n > 0 ? n : 0] = 0;
  }
  BIO_free(b);
  char *hex = NULL;
  BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
  if (bn) hex = BN_bn2hex(bn);
  snprintf(out, outlen, "subject %s, serial %s", subject, hex ? hex : "?");
  OPENSSL_free(hex);
  BN_free(bn);
}

char *tls_server_rx_buffer(tls_server_t *s, size_t *len) {
  *len = sizeof s->rx;
  return s->rx;
}

/* ---------- sessions ---------- */

tls_conn_t *tls_conn_new(tls_server_t *s) {
  tls_conn_t *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->srv = s;
  t->ssl = SSL_new(s->ctx);
  t->rbio = BIO_new(BIO_s_mem());
  t->wbio = BIO_new(BIO_s_mem());
  if (!t->ssl || !t->rbio || !t->wbio) {
    SSL_free(t->ssl);
    BIO_free(t->rbio);
    BIO_free(t->wbio);
    free(t);
    ERR_clear_error();
    return NULL;
  }
  BIO_set_mem_eof_return(t->rbio, -1); /* empty = "retry", not end of stream */
  SSL_set_bio(t->ssl, t->rbio, t->wbio);
  SSL_set_accept_state(t->ssl);
  return t;
}

void tls_conn_free(tls_conn_t *t) {
  if (!t) return;
  SSL_free(t->ssl); /* and its BIOs */
  free(t);
}

int tls_conn_feed(tls_conn_t *t, const char *data, size_t n) {
  while (n > 0) {
    int chunk = n > INT_MAX ? INT_MAX : (int)n;
    int w = BIO_write(t->rbio, data, chunk);
    if (w <= 0) return -1;
    data += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Record why the session failed: the certificate check's verdict when there is one. */
static void session_failed(tls_conn_t *t, int ssl_err) {
  t->failed = 1;
  long v = SSL_get_verify_result(t->ssl);
  char buf[160] = "";
  unsigned long e = ERR_peek_last_error();
  if (e) ERR_error_string_n(e, buf, sizeof buf);
  if (ssl_err == SSL_ERROR_ZERO_RETURN) snprintf(t->err, sizeof t->err, "closed by the peer");
  else if (v != X509_V_OK && !t->established)
    snprintf(t->err, sizeof t->err, "client certificate refused: %s",
             X509_verify_cert_error_string(v));
  else if (ssl_err == SSL_ERROR_SYSCALL && !e)
    snprintf(t->err, sizeof t->err, "connection ended during TLS");
  else snprintf(t->err, sizeof t->err, "%s", buf[0] ? buf : "TLS error");
  ERR_clear_error();
}

static void remember_subject(tls_conn_t *t) {
  X509 *x = SSL_get0_peer_certificate(t->ssl);
  BIO *b = x ? BIO_new(BIO_s_mem()) : NULL;
  if (b && X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
    int n = BIO_read(b, t->subject, sizeof t->subject - 1);
    t->subject[n > 0 ? n : 0] = 0;
  }
  BIO_free(b);
}

ssize_t tls_conn_read(tls_conn_t *t, char *buf, size_t cap) {
  if (t->failed) return -1;
  ERR_clear_error();
  if (!t->established) {
    int r = SSL_do_handshake(t->ssl);
    if (r != 1) {
      int e = SSL_get_error(t->ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
      session_failed(t, e);
      return -1;
    }
    t->established = 1;
    remember_subject(t);
  }
  size_t got = 0;
  if (SSL_read_ex(t->ssl, buf, cap, &got)) return (ssize_t)got;
  int e = SSL_get_error(t->ssl, 0);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
  session_failed(t, e);
  return -1;
}

int tls_conn_established(const tls_conn_t *t) { return t->established; }

int tls_conn_seal(tls_conn_t *t, const char *plain, size_t n, const char **out, size_t *outlen) {
  tls_server_t *s = t->srv;
  *out = NULL;
  *outlen = 0;
  if (n) {
    size_t written = 0;
    ERR_clear_error();
    if (t->failed || !t->established || !SSL_write_ex(t->ssl, plain, n, &written) ||
        written != n) {
      if (!t->failed) session_failed(t, SSL_get_error(t->ssl, 0));
      return -1;
    }
  }
  size_t pending = BIO_ctrl_pending(t->wbio);
  if (!pending) return 0;
  if (pending > s->tx_cap) {
    char *nb = realloc(s->tx, pending);
    if (!nb) return -1;
    s->tx = nb;
    s->tx_cap = pending;
  }
  size_t got = 0;
  if (!BIO_read_ex(t->wbio, s->tx, pending, &got)) return -1;
  *out = s->tx;
  *outlen = got;
  return 0;
}

int tls_conn_has_output(const tls_conn_t *t) { return BIO_ctrl_pending(t->wbio) > 0; }

const char *tls_conn_error(const tls_conn_t *t) { return t->err; }

int tls_conn_subject_allowed(const tls_conn_t *t, const char *allowlist) {
  if (!t->established || !t->subject[0]) return 0;
  size_t n = strlen(t->subject);
  const char *p = allowlist;
  while (*p) {
    while (*p == '|' || *p == ' ' || *p == '\t') p++;
    const char *end = strchr(p, '|');
    if (!end) end = p + strlen(p);
    const char *last = end;
    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) last--;
    if ((size_t)(last - p) == n && !memcmp(p, t->subject, n)) return 1;
    p = end;
  }
  return 0;
}

size_t tls_conn_memory(const tls_conn_t *t) {
  return BIO_ctrl_pending(t->rbio) + BIO_ctrl_pending(t->wbio);
}

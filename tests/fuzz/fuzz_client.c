/* fuzz_client.c -- libFuzzer target: libpatronclient's reply path on hostile daemon bytes.
 * A thread in this process plays the daemon on an abstract Unix socket: it accepts, reads the
 * request, answers with the fuzz input verbatim and closes. The real library (mpscan frame
 * scanner, msgpack-c decode, msgid matching, notification callback, remote error parsing,
 * msgpack->JSON rendering) reads it through patron_call or patron_call_json (the first byte
 * picks which and the reply size limit). The same bytes also go through the public
 * converters patron_msgpack_to_json and patron_json_to_msgpack.
 * Invariant checked: every call returns a status and a well-formed error or result; a fresh
 * handle per input always sends msgid 1, so seeds answer [1, 1, err, result]. */
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "patronclient.h"

static char sock_name[64]; /* "@patron-fuzz-client-<pid>" */
static int listen_fd = -1;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t served_cv = PTHREAD_COND_INITIALIZER;
static const uint8_t *reply_bytes; /* the input being served; NULL once served */
static size_t reply_len;

static void *daemon_thread(void *arg) {
  (void)arg;
  for (;;) {
    int fd = accept(listen_fd, NULL, NULL);
    if (fd < 0) continue;
    char req[4096];
    struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
    if (poll(&p, 1, 2000) > 0) (void)!read(fd, req, sizeof req); /* the request: small */
    /* the input stays alive until this connection is served: the main thread waits */
    pthread_mutex_lock(&mu);
    const uint8_t *b = reply_bytes;
    size_t n = b ? reply_len : 0;
    size_t off = 0;
    while (off < n) {
      ssize_t w = send(fd, b + off, n - off, MSG_NOSIGNAL);
      if (w <= 0) break;
      off += (size_t)w;
    }
    close(fd);
    reply_bytes = NULL;
    pthread_cond_signal(&served_cv);
    pthread_mutex_unlock(&mu);
  }
  return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  snprintf(sock_name, sizeof sock_name, "@patron-fuzz-client-%d", (int)getpid());
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  size_t n = strlen(sock_name);
  memcpy(sa.sun_path + 1, sock_name + 1, n - 1); /* abstract: leading NUL */
  listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd < 0 ||
      bind(listen_fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) ||
      listen(listen_fd, 16))
    abort();
  pthread_t t;
  if (pthread_create(&t, NULL, daemon_thread, NULL)) abort();
  pthread_detach(t);
  return 0;
}

static void on_notify(const char *method, size_t method_len, const void *params,
                      size_t params_len, void *ud) {
  (void)ud;
  /* touch every byte handed over: ASan checks the bounds */
  volatile uint8_t x = 0;
  for (size_t i = 0; i < method_len; i++) x ^= (uint8_t)method[i];
  for (size_t i = 0; i < params_len; i++) x ^= ((const uint8_t *)params)[i];
  (void)x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t mode = data[0];
  data++, size--;

  /* the public converters on the same bytes */
  char *json = patron_msgpack_to_json(data, size, mode & 4 ? 2 : 0);
  patron_free(json);
  void *mp = NULL;
  size_t mp_len = 0;
  patron_error_t jerr;
  if (patron_json_to_msgpack((const char *)data, size, &mp, &mp_len, &jerr) == PATRON_OK)
    patron_free(mp);

  pthread_mutex_lock(&mu);
  reply_bytes = data;
  reply_len = size;
  pthread_mutex_unlock(&mu);
  patron_client_t *c = patron_open(sock_name, 5000);
  if (!c) abort();
  if (mode & 2) patron_set_max_reply(c, 64 + (size_t)(mode >> 3) * 16); /* hit the size cap */
  if (mode & 8) patron_set_notify(c, on_notify, NULL);
  if (mode & 1) {
    int status = 0;
    char *out = patron_call_json(c, "customer.get", "{\"id\":\"c1\"}", &status);
    if (!out) abort(); /* a result or an error document, always */
    if (strlen(out) == 0) abort();
    patron_free(out);
  } else {
    void *res = NULL;
    size_t res_len = 0;
    patron_error_t err;
    static const uint8_t params[] = {0x81, 0xa2, 'i', 'd', 0xa2, 'c', '1'};
    int r = patron_call(c, "customer.get", params, sizeof params, &res, &res_len, &err);
    if (r == PATRON_OK && !res) abort();
    if (r != PATRON_OK && (res || !err.code[0])) abort();
    if (memchr(err.message, 0, sizeof err.message) == NULL) abort(); /* terminated */
    patron_free(res);
  }
  patron_close(c);
  /* one connection per call: wait until the fake daemon is done with this input */
  pthread_mutex_lock(&mu);
  while (reply_bytes) pthread_cond_wait(&served_cv, &mu);
  pthread_mutex_unlock(&mu);
  return 0;
}

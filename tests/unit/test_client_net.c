/* test_client_net.c -- cmocka tests for libpatronclient's own connection logic against a
 * throwaway in-test peer (a thread on a temporary Unix socket) or no peer at all.
 *
 * What is tested here is the client, not patrond: the deadline (connect + write + read)
 * with a peer that accepts and never answers, fast UNAVAILABLE when the socket is absent,
 * lazy reconnect after a timeout or after the peer hung up, msgid matching (late replies
 * and notifications skipped, the callback called), replies split into single bytes,
 * remote errors with code/message/field, malformed and oversize replies, params checks,
 * and the JSON convenience call's result and error texts. The peer's behaviour is chosen
 * by the method name of each request. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <msgpack.h>

#include "mpscan.h"
#include "patronclient.h"

static char sock_path[108];
static int listen_fd = -1;
static volatile int accepts; /* connections accepted by the peer */
static volatile int hangups; /* connections the peer closed after answering "hangup" */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void send_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
    if (w <= 0) return;
    c += w;
    n -= (size_t)w;
  }
}

/* Pack [1, msgid, err, result] where err/result are given as packing callbacks. */
typedef void (*packfn)(msgpack_packer *);
static void pack_nil(msgpack_packer *pk) { msgpack_pack_nil(pk); }
static void pack_echo_ok(msgpack_packer *pk) {
  msgpack_pack_map(pk, 1);
  msgpack_pack_str_with_body(pk, "ok", 2);
  msgpack_pack_true(pk);
}
static void pack_fresh(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, "fresh", 5); }
static void pack_err(msgpack_packer *pk) {
  msgpack_pack_map(pk, 3);
  msgpack_pack_str_with_body(pk, "code", 4);
  msgpack_pack_str_with_body(pk, "invalid_params", 14);
  msgpack_pack_str_with_body(pk, "message", 7);
  msgpack_pack_str_with_body(pk, "quantity must be > 0", 20);
  msgpack_pack_str_with_body(pk, "field", 5);
  msgpack_pack_str_with_body(pk, "lines[0].quantity", 17);
}
static void pack_unavail(msgpack_packer *pk) {
  msgpack_pack_map(pk, 2);
  msgpack_pack_str_with_body(pk, "code", 4);
  msgpack_pack_str_with_body(pk, "unavailable", 11);
  msgpack_pack_str_with_body(pk, "message", 7);
  msgpack_pack_str_with_body(pk, "draining", 8);
}

static void reply(int fd, uint64_t msgid, packfn err, packfn res, int drip) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 4);
  msgpack_pack_uint8(&pk, 1);
  msgpack_pack_uint64(&pk, msgid);
  err(&pk);
  res(&pk);
  if (drip) {
    for (size_t i = 0; i < sb.size; i++) {
      send_all(fd, sb.data + i, 1);
      usleep(1000);
    }
  } else {
    send_all(fd, sb.data, sb.size);
  }
  msgpack_sbuffer_destroy(&sb);
}

/* Serve one connection until EOF. Returns when the client hangs up or we do: 0 on EOF or a
 * read error, 1 when the peer closes on purpose, 2 after answering "hangup". */
static int serve(int fd) {
  unsigned char buf[65536];
  size_t len = 0;
  for (;;) {
    mpscan_t s;
    size_t fl = 0;
    mpscan_init(&s);
    while (mpscan_feed(&s, buf, len, sizeof buf, &fl) != MPSCAN_DONE) {
      ssize_t n = recv(fd, buf + len, sizeof buf - len, 0);
      if (n <= 0) return 0;
      len += (size_t)n;
    }
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    msgpack_unpack_next(&up, (const char *)buf, fl, &off);
    msgpack_object *a = up.data.via.array.ptr;
    uint64_t id = a[1].via.u64;
    char method[64] = {0};
    memcpy(method, a[2].via.str.ptr, a[2].via.str.size < 63 ? a[2].via.str.size : 63);
    int close_after = 0;
    if (!strcmp(method, "ok")) {
      /* echo the params array back as the result */
      msgpack_sbuffer sb;
      msgpack_sbuffer_init(&sb);
      msgpack_packer pk;
      msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
      msgpack_pack_array(&pk, 4);
      msgpack_pack_uint8(&pk, 1);
      msgpack_pack_uint64(&pk, id);
      msgpack_pack_nil(&pk);
      msgpack_pack_object(&pk, a[3]);
      send_all(fd, sb.data, sb.size);
      msgpack_sbuffer_destroy(&sb);
    } else if (!strcmp(method, "silent")) {
      /* never answer */
    } else if (!strcmp(method, "stale")) {
      reply(fd, id + 1000, pack_nil, pack_echo_ok, 0);
      unsigned char note[] = {0x93, 0x02, 0xa3, 'e', 'v', 't', 0x91, 0x81, 0xa1, 'k', 0x01};
      send_all(fd, note, sizeof note);
      reply(fd, id, pack_nil, pack_fresh, 0);
    } else if (!strcmp(method, "drip")) {
      reply(fd, id, pack_nil, pack_fresh, 1);
    } else if (!strcmp(method, "err")) {
      reply(fd, id, pack_err, pack_nil, 0);
    } else if (!strcmp(method, "unavail")) {
      reply(fd, id, pack_unavail, pack_nil, 0);
    } else if (!strcmp(method, "garbage")) {
      unsigned char g[] = {0x94, 0x01, 0xc1};
      send_all(fd, g, sizeof g);
    } else if (!strcmp(method, "huge")) {
      /* [1, id, nil, str32 of 100 MB...] header only */
      unsigned char h[] = {0x94, 0x01, 0xce, 0, 0, 0, 0, 0xc0, 0xdb, 0x06, 0x00, 0x00, 0x00};
      h[3] = (unsigned char)(id >> 24);
      h[4] = (unsigned char)(id >> 16);
      h[5] = (unsigned char)(id >> 8);
      h[6] = (unsigned char)id;
      send_all(fd, h, sizeof h);
    } else if (!strcmp(method, "bye")) {
      close_after = 1;
    } else if (!strcmp(method, "hangup")) {
      reply(fd, id, pack_nil, pack_fresh, 0);
      close_after = 2;
    } else {
      reply(fd, id, pack_err, pack_nil, 0);
    }
    msgpack_unpacked_destroy(&up);
    memmove(buf, buf + fl, len - fl);
    len -= fl;
    if (close_after) return close_after;
  }
}

static void *peer_main(void *arg) {
  (void)arg;
  for (;;) {
    int fd = accept(listen_fd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR) continue;
      return NULL;
    }
    __atomic_add_fetch(&accepts, 1, __ATOMIC_SEQ_CST);
    int why = serve(fd);
    close(fd);
    if (why == 2) __atomic_add_fetch(&hangups, 1, __ATOMIC_SEQ_CST);
  }
}

static int setup_peer(void **state) {
  (void)state;
  snprintf(sock_path, sizeof sock_path, "/tmp/patron-client-test-%ld.sock", (long)getpid());
  unlink(sock_path);
  listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  strcpy(a.sun_path, sock_path);
  if (bind(listen_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(listen_fd, 8) != 0)
    return -1;
  pthread_t t;
  if (pthread_create(&t, NULL, peer_main, NULL) != 0) return -1;
  pthread_detach(t);
  return 0;
}

static int teardown_peer(void **state) {
  (void)state;
  unlink(sock_path);
  return 0;
}

static int accepted(void) { return __atomic_load_n(&accepts, __ATOMIC_SEQ_CST); }

/* ---- tests --------------------------------------------------------------------------- */

static void test_absent_socket(void **state) {
  (void)state;
  patron_client_t *c = patron_open("/tmp/patron-client-test-no-such.sock", 500);
  assert_non_null(c);
  patron_error_t err;
  void *res = (void *)1;
  size_t n = 9;
  int64_t t0 = now_ms();
  assert_int_equal(patron_call(c, "ping", NULL, 0, &res, &n, &err), PATRON_E_UNAVAILABLE);
  assert_true(now_ms() - t0 < 400); /* refused at once, not after the 500 ms timeout */
  assert_null(res);
  assert_int_equal(n, 0);
  assert_int_equal(err.status, PATRON_E_UNAVAILABLE);
  assert_string_equal(err.code, "unavailable");
  assert_int_equal(patron_connect(c, &err), PATRON_E_UNAVAILABLE);
  patron_close(c);
}

static void test_open_rejects_long_path(void **state) {
  (void)state;
  char p[200];
  memset(p, 'a', sizeof p - 1);
  p[sizeof p - 1] = '\0';
  p[0] = '/';
  assert_null(patron_open(p, 100));
  patron_close(NULL);
}

static void test_timeout_then_reconnect(void **state) {
  (void)state;
  patron_client_t *c = patron_open(sock_path, 200);
  patron_error_t err;
  void *res = NULL;
  size_t n = 0;
  int before = accepted();
  int64_t t0 = now_ms();
  int r = patron_call(c, "silent", NULL, 0, &res, &n, &err);
  int64_t el = now_ms() - t0;
  assert_int_equal(r, PATRON_E_UNAVAILABLE);
  assert_string_equal(err.code, "timeout");
  assert_true(el >= 190 && el < 600);
  /* the next call uses a fresh connection and succeeds */
  r = patron_call(c, "ok", NULL, 0, &res, &n, &err);
  assert_int_equal(r, PATRON_OK);
  assert_int_equal(accepted(), before + 2);
  /* result is the params array [{}] echoed */
  assert_int_equal(n, 2);
  assert_memory_equal(res, "\x91\x80", 2);
  patron_free(res);
  /* a per-handle timeout change applies to the next call */
  assert_int_equal(patron_set_timeout(c, 50), 200);
  t0 = now_ms();
  assert_int_equal(patron_call(c, "silent", NULL, 0, &res, &n, &err), PATRON_E_UNAVAILABLE);
  el = now_ms() - t0;
  assert_true(el >= 45 && el < 400);
  patron_close(c);
}

static int notes;
static void on_note(const char *m, size_t ml, const void *p, size_t pl, void *ud) {
  (void)ud;
  assert_int_equal(ml, 3);
  assert_memory_equal(m, "evt", 3);
  assert_int_equal(pl, 5);
  assert_memory_equal(p, "\x91\x81\xa1k\x01", 5);
  notes++;
}

static void test_stale_and_notifications(void **state) {
  (void)state;
  patron_client_t *c = patron_open(sock_path, 1000);
  patron_set_notify(c, on_note, NULL);
  int st = -99;
  char *out = patron_call_json(c, "stale", NULL, &st);
  assert_int_equal(st, PATRON_OK);
  assert_string_equal(out, "\"fresh\"");
  assert_int_equal(notes, 1);
  patron_free(out);
  /* without a callback they are skipped */
  patron_set_notify(c, NULL, NULL);
  out = patron_call_json(c, "stale", "", &st);
  assert_int_equal(st, PATRON_OK);
  assert_string_equal(out, "\"fresh\"");
  assert_int_equal(notes, 1);
  patron_free(out);
  patron_close(c);
}

static void test_dripped_reply(void **state) {
  (void)state;
  patron_client_t *c = patron_open(sock_path, 2000);
  int st;
  char *out = patron_call_json(c, "drip", "{}", &st);
  assert_int_equal(st, PATRON_OK);
  assert_string_equal(out, "\"fresh\"");
  patron_free(out);
  patron_close(c);
}

static void test_remote_errors(void **state) {
  (void)state;
  patron_client_t *c = patron_open(sock_path, 1000);
  patron_error_t err;
  void *res = NULL;
  size_t n = 0;
  int before = accepted();
  assert_int_equal(patron_call(c, "err", NULL, 0, &res, &n, &err), PATRON_E_REMOTE);
  assert_string_equal(err.code, "invalid_params");
  assert_string_equal(err.message, "quantity must be > 0");
  assert_string_equal(err.field, "lines[0].quantity");
  assert_null(res);
  int st;
  char *out = patron_call_json(c, "err", "{\"x\": 1}", &st);
  assert_int_equal(st, PATRON_E_REMOTE);
  assert_string_equal(out, "{\"code\":\"invalid_params\",\"message\":\"quantity must be > 0\","
                           "\"field\":\"lines[0].quantity\"}");
  patron_free(out);
  /* a remote "unavailable" is the fail-open status too; the connection is kept */
  assert_int_equal(patron_call(c, "unavail", NULL, 0, &res, &n, &err), PATRON_E_UNAVAILABLE);
  assert_string_equal(err.code, "unavailable");
  assert_int_equal(patron_call(c, "ok", NULL, 0, &res, &n, &err), PATRON_OK);
  patron_free(res);
  assert_int_equal(accepted(), before + 1);
  patron_close(c);
}

static void test_bad_replies(void **state) {
  (void)state;
  patron_client_t *c = patron_open(sock_path, 1000);
  patron_error_t err;
  void *res = NULL;
  size_t n = 0;
  assert_int_equal(patron_call(c, "garbage", NULL, 0, &res, &n, &err), PATRON_E_PROTOCOL);
  assert_string_equal(err.code, "protocol");
  patron_set_max_reply(c, 1 << 20);
  int64_t t0 = now_ms();
  assert_int_equal(patron_call(c, "huge", NULL, 0, &res, &n, &err), PATRON_E_TOO_LARGE);
  assert_true(now_ms() - t0 < 500); /* refused from the header, not after the timeout */
  assert_string_equal(err.code, "too_large");
  /* the peer closing without an answer */
  assert_int_equal(patron_call(c, "bye", NULL, 0, &res, &n, &err), PATRON_E_UNAVAILABLE);
  assert_string_equal(err.code, "unavailable");
  /* and the handle still works afterwards */
  assert_int_equal(patron_call(c, "ok", NULL, 0, &res, &n, &err), PATRON_OK);
  patron_free(res);
  patron_close(c);
}

static void test_peer_hung_up_between_calls(void **state) {
  (void)state;
  patron_client_t *c = patron_open(sock_path, 1000);
  int st, closed = __atomic_load_n(&hangups, __ATOMIC_SEQ_CST);
  char *out = patron_call_json(c, "hangup", NULL, &st);
  assert_int_equal(st, PATRON_OK);
  patron_free(out);
  /* wait for the peer's close (the event), not for a fixed time */
  int64_t end = now_ms() + 5000;
  while (__atomic_load_n(&hangups, __ATOMIC_SEQ_CST) == closed) {
    assert_true(now_ms() < end);
    sched_yield();
  }
  int before = accepted();
  /* the kept connection is dead: the call must go through on a new one */
  out = patron_call_json(c, "ok", "{\"a\": [1, 2.5, \"x\"]}", &st);
  assert_int_equal(st, PATRON_OK);
  assert_int_equal(accepted(), before + 1);
  assert_string_equal(out, "[{\"a\":[1,2.5,\"x\"]}]");
  patron_free(out);
  patron_close(c);
}

static void test_invalid_arguments(void **state) {
  (void)state;
  patron_client_t *c = patron_open(sock_path, 1000);
  patron_error_t err;
  void *res = NULL;
  size_t n = 0;
  int before = accepted();
  assert_int_equal(patron_call(c, "", NULL, 0, &res, &n, &err), PATRON_E_INVALID);
  assert_int_equal(patron_call(c, NULL, NULL, 0, &res, &n, &err), PATRON_E_INVALID);
  assert_int_equal(patron_call(c, "ok", "\x91\x01", 2, &res, &n, &err), PATRON_E_INVALID);
  assert_string_equal(err.code, "invalid_params");
  assert_int_equal(patron_call(c, "ok", "\x80\x80", 2, &res, &n, &err), PATRON_E_INVALID);
  assert_int_equal(patron_call(c, "ok", "\x81\xa1", 2, &res, &n, &err), PATRON_E_INVALID);
  int st;
  char *out = patron_call_json(c, "ok", "[1]", &st);
  assert_int_equal(st, PATRON_E_INVALID);
  assert_non_null(strstr(out, "\"code\":\"invalid_params\""));
  patron_free(out);
  out = patron_call_json(c, "ok", "{\"a\":", &st);
  assert_int_equal(st, PATRON_E_INVALID);
  patron_free(out);
  out = patron_call_json(NULL, "ok", "{}", &st);
  assert_int_equal(st, PATRON_E_INVALID);
  patron_free(out);
  assert_int_equal(accepted(), before); /* nothing was sent */
  /* a valid map params goes through as [map] */
  assert_int_equal(patron_call(c, "ok", "\x81\xa1k\x02", 4, &res, &n, &err), PATRON_OK);
  assert_int_equal(n, 5);
  assert_memory_equal(res, "\x91\x81\xa1k\x02", 5);
  patron_free(res);
  patron_close(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_absent_socket),
      cmocka_unit_test(test_open_rejects_long_path),
      cmocka_unit_test(test_timeout_then_reconnect),
      cmocka_unit_test(test_stale_and_notifications),
      cmocka_unit_test(test_dripped_reply),
      cmocka_unit_test(test_remote_errors),
      cmocka_unit_test(test_bad_replies),
      cmocka_unit_test(test_peer_hung_up_between_calls),
      cmocka_unit_test(test_invalid_arguments),
  };
  return cmocka_run_group_tests(tests, setup_peer, teardown_peer);
}

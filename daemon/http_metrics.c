/* http_metrics.c -- see http_metrics.h. A connection goes READING (the request head
 * accumulates in its fixed buffer) -> WRITING (one answer, then shutdown) -> DRAINING (input
 * read and dropped until the peer closes, so an unread request body never turns the close
 * into a reset that loses the answer) -> closed. The sweep timer closes any connection older
 * than HTTP_CONN_TIMEOUT_MS and rewrites the textfile when it is due. */
#include "http_metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "metrics_text.h"

enum { HC_READING, HC_WRITING, HC_DRAINING };
enum { R_200, R_400, R_404, R_405, R_431, R__COUNT };
static const char *const resp_code[R__COUNT] = {"200", "400", "404", "405", "431"};
static const char *const resp_reason[R__COUNT] = {"OK", "Bad Request", "Not Found",
                                                  "Method Not Allowed",
                                                  "Request Header Fields Too Large"};

typedef struct http_metrics_s http_metrics_t;

typedef struct hconn_s {
  uv_tcp_t tcp;
  http_metrics_t *hm;
  struct hconn_s *prev, *next;
  uint64_t deadline_ms;
  int state;
  size_t len;
  char *resp;
  uv_write_t wreq;
  uv_shutdown_t sreq;
  char buf[HTTP_REQ_MAX];
} hconn_t;

struct http_metrics_s {
  daemon_t *d;
  uv_tcp_t listener;
  uv_timer_t sweep;
  int listening, sweeping;
  hconn_t *conns;
  unsigned nconns;
  uint64_t textfile_due_ms;
  log_limit_t textfile_log;
  uint64_t responses[R__COUNT], rejected, timeouts;
};

static void render_http(http_metrics_t *hm, mtext_t *t);

/* ---------- connections ---------- */

static void on_hconn_closed(uv_handle_t *h) {
  hconn_t *c = h->data;
  free(c->resp);
  free(c);
}

static void hconn_close(hconn_t *c) {
  http_metrics_t *hm = c->hm;
  if (uv_is_closing((uv_handle_t *)&c->tcp)) return;
  if (c->prev) c->prev->next = c->next;
  else hm->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  hm->nconns--;
  uv_close((uv_handle_t *)&c->tcp, on_hconn_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  hconn_t *c = req->data;
  if (status < 0) hconn_close(c);
  else c->state = HC_DRAINING; /* closed on EOF, an error or the deadline */
}

static void on_written(uv_write_t *req, int status) {
  hconn_t *c = req->data;
  free(c->resp);
  c->resp = NULL;
  if (status < 0 || uv_is_closing((uv_handle_t *)&c->tcp)) {
    hconn_close(c);
    return;
  }
  c->sreq.data = c;
  if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown)) hconn_close(c);
}

/* Send status r with body (headers only for HEAD), then shut down the connection. */
static void respond(hconn_t *c, int r, const char *body, size_t body_len, int head_only,
                    const char *extra_headers) {
  mtext_t t = {0};
  c->hm->responses[r]++;
  c->state = HC_WRITING;
  mtext_printf(&t,
               "HTTP/1.1 %s %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
               "Connection: close\r\n\r\n",
               resp_code[r], resp_reason[r],
               r == R_200 ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8",
               body_len, extra_headers ? extra_headers : "");
  if (!head_only && body_len) mtext_printf(&t, "%.*s", (int)body_len, body);
  if (t.oom) {
    mtext_free(&t);
    hconn_close(c);
    return;
  }
  c->resp = t.p;
  c->wreq.data = c;
  uv_buf_t b = uv_buf_init(t.p, (unsigned)t.n);
  if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_written)) hconn_close(c);
}

static void respond_error(hconn_t *c, int r, const char *extra_headers) {
  char body[80];
  int n = snprintf(body, sizeof body, "%s %s\n", resp_code[r], resp_reason[r]);
  respond(c, r, body, (size_t)n, 0, extra_headers);
}

static int is_tchar(char ch) { /* RFC 9110 token characters */
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* A complete request head is in c->buf[0..len): answer it. */
static void handle_request(hconn_t *c) {
  const char *p = c->buf, *end = c->buf + c->len;
  const char *eol = memchr(p, '\n', (size_t)(end - p));
  const char *m = p, *me = m;
  while (me < eol && is_tchar(*me)) me++;
  if (me == m || me >= eol || *me != ' ') {
    respond_error(c, R_400, NULL);
    return;
  }
  const char *target = me + 1, *te = target;
  while (te < eol && *te != ' ') te++;
  const char *version = te + 1;
  size_t vlen = (size_t)(eol - version) - (eol > version && eol[-1] == '\r');
  if (te == target || te >= eol || vlen != 8 || memcmp(version, "HTTP/1.", 7) ||
      (version[7] != '0' && version[7] != '1')) {
    respond_error(c, R_400, NULL);
    return;
  }
  size_t plen = (size_t)(te - target);
  const char *q = memchr(target, '?', plen);
  if (q) plen = (size_t)(q - target);
  if (plen != 8 || memcmp(target, "/metrics", 8)) {
    respond_error(c, R_404, NULL);
    return;
  }
  size_t mlen = (size_t)(me - m);
  int get = mlen == 3 && !memcmp(m, "GET", 3), head = mlen == 4 && !memcmp(m, "HEAD", 4);
  if (!get && !head) {
    respond_error(c, R_405, "Allow: GET, HEAD\r\n");
    return;
  }
  mtext_t t = {0};
  metrics_render(c->hm->d, &t);
  render_http(c->hm, &t);
  if (t.oom) {
    mtext_free(&t);
    hconn_close(c);
    return;
  }
  respond(c, R_200, t.p, t.n, head, NULL);
  mtext_free(&t);
}

/* 1 if b holds the end of a request head (an empty line). */
static int head_complete(const char *b, size_t n) {
  for (size_t i = 1; i < n; i++)
    if (b[i] == '\n' && (b[i - 1] == '\n' || (i >= 2 && b[i - 1] == '\r' && b[i - 2] == '\n')))
      return 1;
  return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  hconn_t *c = h->data;
  (void)suggested;
  if (c->state == HC_READING) *buf = uv_buf_init(c->buf + c->len, (unsigned)(HTTP_REQ_MAX - c->len));
  else *buf = uv_buf_init(c->buf, HTTP_REQ_MAX); /* dropped */
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  hconn_t *c = s->data;
  (void)buf;
  if (nread < 0) {
    if (c->state != HC_WRITING) hconn_close(c); /* else on_written closes it */
    else uv_read_stop(s);
    return;
  }
  if (c->state != HC_READING || nread == 0) return;
  size_t before = c->len;
  c->len += (size_t)nread;
  /* look again from just before the new bytes: the empty line may straddle two reads */
  size_t from = before > 3 ? before - 3 : 0;
  if (head_complete(c->buf + from, c->len - from)) handle_request(c);
  else if (c->len >= HTTP_REQ_MAX) respond_error(c, R_431, NULL);
}

static void on_connection(uv_stream_t *server, int status) {
  http_metrics_t *hm = server->data;
  if (status < 0) return;
  hconn_t *c = calloc(1, sizeof *c);
  if (!c) return; /* left in the backlog; the next accept retries */
  uv_tcp_init(hm->d->loop, &c->tcp);
  c->tcp.data = c;
  c->hm = hm;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) || hm->nconns >= HTTP_MAX_CONNS) {
    if (hm->nconns >= HTTP_MAX_CONNS) hm->rejected++;
    uv_close((uv_handle_t *)&c->tcp, on_hconn_closed);
    return;
  }
  c->deadline_ms = uv_now(hm->d->loop) + HTTP_CONN_TIMEOUT_MS;
  c->next = hm->conns;
  if (hm->conns) hm->conns->prev = c;
  hm->conns = c;
  hm->nconns++;
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read)) hconn_close(c);
}

/* ---------- the textfile ---------- */

/* The listener's own counters, after the exposition. */
static void render_http(http_metrics_t *hm, mtext_t *t) {
  mtext_family(t, "patron_metrics_http_responses_total", "counter",
               "Answers of the /metrics listener, by HTTP status code.");
  for (int r = 0; r < R__COUNT; r++)
    mtext_printf(t, "patron_metrics_http_responses_total{code=\"%s\"} %llu\n", resp_code[r],
                 (unsigned long long)hm->responses[r]);
  mtext_family(t, "patron_metrics_http_closed_total", "counter",
               "Connections to the /metrics listener closed unanswered, by reason "
               "(limit: over the connection limit; timeout: not done in time).");
  mtext_printf(t, "patron_metrics_http_closed_total{reason=\"limit\"} %llu\n",
               (unsigned long long)hm->rejected);
  mtext_printf(t, "patron_metrics_http_closed_total{reason=\"timeout\"} %llu\n",
               (unsigned long long)hm->timeouts);
}

/* Write the exposition to PATH.tmp, then rename it over PATH. 0 or -1 (errno set). */
static int write_textfile(http_metrics_t *hm, const char *path) {
  char tmp[CONFIG_PATH_MAX + 8];
  mtext_t t = {0};
  metrics_render(hm->d, &t);
  render_http(hm, &t);
  if (t.oom) {
    mtext_free(&t);
    errno = ENOMEM;
    return -1;
  }
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  int rc = fd < 0 ? -1 : 0;
  /* readable by the collector's user whatever the service's umask */
  if (rc == 0 && fchmod(fd, 0644)) rc = -1;
  for (size_t off = 0; rc == 0 && off < t.n;) {
    ssize_t w = write(fd, t.p + off, t.n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) rc = -1;
    else off += (size_t)w;
  }
  int saved = errno;
  if (fd >= 0 && close(fd) && rc == 0) rc = -1, saved = errno;
  if (rc == 0 && rename(tmp, path)) rc = -1, saved = errno;
  if (rc && fd >= 0) unlink(tmp);
  mtext_free(&t);
  errno = saved;
  return rc;
}

static void textfile_maybe(http_metrics_t *hm, uint64_t now) {
  daemon_t *d = hm->d;
  if (!d->cfg.metrics_textfile[0] || now < hm->textfile_due_ms) return;
  hm->textfile_due_ms = now + d->cfg.metrics_textfile_interval_s * 1000;
  if (write_textfile(hm, d->cfg.metrics_textfile) &&
      log_limit_allow(&hm->textfile_log, LOG_LVL_WARN, now))
    log_warn("metrics.textfile: cannot write %s: %s", d->cfg.metrics_textfile, strerror(errno));
}

static void on_sweep(uv_timer_t *t) {
  http_metrics_t *hm = t->data;
  uint64_t now = uv_now(hm->d->loop);
  for (hconn_t *c = hm->conns, *next; c; c = next) {
    next = c->next;
    if (now >= c->deadline_ms) {
      if (c->state == HC_READING) hm->timeouts++;
      hconn_close(c);
    }
  }
  textfile_maybe(hm, now);
}

/* ---------- start and stop ---------- */

static int listen_on(http_metrics_t *hm, const char *spec) {
  daemon_t *d = hm->d;
  char host[64], err[256];
  int port, v6, rc;
  struct sockaddr_storage sa;
  if (config_parse_listen(spec, host, sizeof host, &port, &v6, err, sizeof err)) {
    log_err("%s", err);
    return -1;
  }
  rc = v6 ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&sa)
          : uv_ip4_addr(host, port, (struct sockaddr_in *)&sa);
  if (!rc) rc = uv_tcp_init(d->loop, &hm->listener);
  if (rc) {
    log_err("metrics.listen %s: %s", spec, uv_strerror(rc));
    return -1;
  }
  hm->listener.data = hm;
  hm->listening = 1;
  rc = uv_tcp_bind(&hm->listener, (const struct sockaddr *)&sa, v6 ? UV_TCP_IPV6ONLY : 0);
  if (!rc) rc = uv_listen((uv_stream_t *)&hm->listener, 64, on_connection);
  if (rc) {
    log_err("cannot listen for metrics on %s: %s", spec, uv_strerror(rc));
    return -1;
  }
  int loopback = v6 ? !strcmp(host, "::1") : !strncmp(host, "127.", 4);
  if (!loopback)
    log_warn("metrics.listen %s is not a loopback address: /metrics has no authentication", spec);
  log_notice(v6 ? "serving metrics on http://[%s]:%d/metrics" : "serving metrics on http://%s:%d/metrics",
             host, port);
  return 0;
}

int http_metrics_start(daemon_t *d) {
  if (!d->cfg.metrics_listen[0] && !d->cfg.metrics_textfile[0]) return 0;
  http_metrics_t *hm = calloc(1, sizeof *hm);
  if (!hm) return -1;
  hm->d = d;
  hm->textfile_log = (log_limit_t){.what = "metrics-textfile", .burst = 1, .window_ms = 300000};
  d->http_metrics = hm;
  if (d->cfg.metrics_listen[0] && listen_on(hm, d->cfg.metrics_listen)) return -1;
  uv_timer_init(d->loop, &hm->sweep);
  hm->sweep.data = hm;
  hm->sweeping = 1;
  uv_timer_start(&hm->sweep, on_sweep, 0, 1000); /* the first textfile at once */
  uv_unref((uv_handle_t *)&hm->sweep);
  return 0;
}

void http_metrics_stop(daemon_t *d) {
  http_metrics_t *hm = d->http_metrics;
  if (!hm) return;
  while (hm->conns) hconn_close(hm->conns);
  if (hm->listening && !uv_is_closing((uv_handle_t *)&hm->listener))
    uv_close((uv_handle_t *)&hm->listener, NULL);
  if (hm->sweeping && !uv_is_closing((uv_handle_t *)&hm->sweep))
    uv_close((uv_handle_t *)&hm->sweep, NULL);
}

void http_metrics_free(daemon_t *d) {
  free(d->http_metrics);
  d->http_metrics = NULL;
}

/* http_metrics.h -- the two ways out of the metrics exposition (metrics_text.h):
 *  - an optional HTTP/1.1 listener on the libuv loop ([metrics] listen): GET or HEAD
 *    /metrics only (other paths 404, other methods 405, malformed 400, a request head over
 *    HTTP_REQ_MAX bytes 431), one request per connection (Connection: close), at most
 *    HTTP_MAX_CONNS connections (more are closed at once), each closed HTTP_CONN_TIMEOUT_MS
 *    after its accept whatever it is doing (slowloris-safe);
 *  - an optional textfile for node_exporter ([metrics] textfile), rewritten every
 *    metrics.textfile_interval_s through a temporary file and rename(2), so the collector
 *    never reads a partial file.
 * Loop thread only. */
#ifndef PATRON_HTTP_METRICS_H
#define PATRON_HTTP_METRICS_H

typedef struct daemon_s daemon_t;

#define HTTP_REQ_MAX 8192
#define HTTP_MAX_CONNS 16
#define HTTP_CONN_TIMEOUT_MS 5000

/* Start what the settings ask for (nothing when neither is configured). -1 if the listener
 * cannot be bound (logged): the daemon does not start with a listener it was told to open. */
int http_metrics_start(daemon_t *d);
/* Close the listener, its connections and the timer (shutdown); the textfile stays. */
void http_metrics_stop(daemon_t *d);
/* After the loop has closed the handles: free what is left. */
void http_metrics_free(daemon_t *d);

#endif

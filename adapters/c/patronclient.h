/* patronclient.h -- public C ABI of libpatronclient, the client library for patrond.
 *
 * Owns: the client handle, the status codes, the structured error and every exported
 * symbol (all prefixed patron_). Kept small and plain (ints, char pointers, size_t, one
 * fixed-size struct) so PHP FFI, ctypes and koffi can bind it without a C compiler.
 *
 * Invariants:
 *  - Every call returns within the handle's timeout (connect + write + read share one
 *    deadline). A daemon that is absent, dead, or too slow yields PATRON_E_UNAVAILABLE,
 *    never a hang: a checkout can fail open.
 *  - After a timeout or any I/O / protocol error the connection is dropped; the next call
 *    reconnects lazily. patron_open() never connects, so it succeeds while patrond is down.
 *  - Replies are matched by msgid; stale replies and notifications are skipped (or handed
 *    to the notification callback).
 *  - The library has no global mutable state and never raises SIGPIPE.
 *
 * Thread safety: a handle must be used by one thread at a time (calls on one handle must
 * be serialised by the caller; a mutex around the handle or one handle per thread). Distinct
 * handles are fully independent and may be used concurrently from different threads.
 * Buffers returned by the library belong to the caller and are freed with patron_free()
 * from any thread. After fork(), a handle inherited by the child silently drops the
 * parent's connection and reconnects on its next call (the two never share a socket).
 *
 * Wire protocol: msgpack-RPC. A call sends [0, msgid, method, [params_map]] and waits for
 * [1, msgid, error, result]; error is nil or {code, message, field?}. Transport: a Unix
 * stream socket, or for "tls://host:port" TCP with TLS 1.3 and a client certificate
 * (patron_set_tls); the same invariants hold, the connect and handshake inside the deadline.
 */
#ifndef PATRONCLIENT_H
#define PATRONCLIENT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define PATRON_API __attribute__((visibility("default")))
#else
#define PATRON_API
#endif

#define PATRON_CLIENT_VERSION_MAJOR 0
#define PATRON_CLIENT_VERSION_MINOR 1
#define PATRON_CLIENT_VERSION_PATCH 0

/* Defaults: socket path, per-call timeout and the largest reply accepted. */
#define PATRON_DEFAULT_SOCKET "/run/patron/patron.sock"
#define PATRON_DEFAULT_TIMEOUT_MS 1000
#define PATRON_DEFAULT_MAX_REPLY (16u * 1024u * 1024u)
/* Port of tls://host when the URL names none. */
#define PATRON_DEFAULT_TLS_PORT 7443

/* Status of a call. 0 is success, every failure is negative. */
typedef enum patron_status {
  PATRON_OK = 0,
  /* The daemon answered with an error: see patron_error_t.code/message/field. */
  PATRON_E_REMOTE = -1,
  /* The daemon could not be reached, closed the connection, or did not answer within the
   * timeout; also a remote error whose code is "unavailable" or "timeout". Fail open. */
  PATRON_E_UNAVAILABLE = -2,
  /* Bad argument from the caller: NULL/empty method, params not exactly one msgpack map,
   * malformed params JSON. Nothing was sent. */
  PATRON_E_INVALID = -3,
  /* The daemon sent something that is not a valid msgpack-RPC reply. Connection dropped. */
  PATRON_E_PROTOCOL = -4,
  /* The reply exceeds the handle's maximum reply size. Connection dropped. */
  PATRON_E_TOO_LARGE = -5,
  /* Out of memory. */
  PATRON_E_NOMEM = -6
} patron_status_t;

/* Structured error. code is a stable string: the daemon's wire code for PATRON_E_REMOTE
 * (invalid_request, unknown_method, invalid_params, not_found, conflict, too_large,
 * forbidden, unavailable, internal, insufficient_data, timeout) or, for local failures,
 * "unavailable", "timeout" (both with status PATRON_E_UNAVAILABLE), "invalid_params",
 * "invalid_request", "protocol", "too_large", "nomem". field is "" when not applicable.
 * Strings longer than the buffers are truncated (always NUL-terminated). */
typedef struct patron_error {
  int status; /* a patron_status_t */
  char code[32];
  char message[256];
  char field[128];
} patron_error_t;

typedef struct patron_client patron_client_t;

/* Notification callback ([2, method, params] from the daemon). method is not
 * NUL-terminated; params is the msgpack encoding of the params object. Both are valid
 * only during the callback. Runs on the calling thread, inside patron_call*(). */
typedef void (*patron_notify_fn)(const char *method, size_t method_len, const void *params,
                                 size_t params_len, void *userdata);

/* Library version string, e.g. "0.1.0". */
PATRON_API const char *patron_version(void);

/* Short name ("ok", "remote", "unavailable", "invalid", "protocol", "too_large", "nomem")
 * and an English description of a status. Unknown values give "unknown". Static strings. */
PATRON_API const char *patron_status_name(int status);
PATRON_API const char *patron_strerror(int status);

/* Create a handle for the daemon at socket_path (NULL or "" = PATRON_DEFAULT_SOCKET; a
 * leading '@' names a Linux abstract socket), or at "tls://host:port" (also tls://[v6]:port;
 * port default PATRON_DEFAULT_TLS_PORT): patrond's [tls] listener, TCP + TLS 1.3, see
 * patron_set_tls. timeout_ms <= 0 = PATRON_DEFAULT_TIMEOUT_MS. Does not connect. Returns
 * NULL only if the path does not fit sockaddr_un, the URL is malformed, or out of memory. */
PATRON_API patron_client_t *patron_open(const char *socket_path, int timeout_ms);

/* Close the connection (if any) and free the handle. NULL is a no-op. */
PATRON_API void patron_close(patron_client_t *c);

/* Per-call timeout for later calls (ms, <= 0 = default). Returns the previous value. */
PATRON_API int patron_set_timeout(patron_client_t *c, int timeout_ms);

/* Largest reply accepted in bytes (0 = PATRON_DEFAULT_MAX_REPLY). Returns the previous. */
PATRON_API size_t patron_set_max_reply(patron_client_t *c, size_t max_bytes);

/* TLS options of a tls:// handle: the client certificate chain and its key (PEM files; the
 * daemon requires a certificate signed by its [tls] ca; key NULL = in the cert file), and
 * the CA file the daemon's certificate must chain to (NULL = the system's CAs). The
 * daemon's certificate must also name the URL's host (DNS or IP subjectAltName). The files
 * are read now; the current connection is dropped (the next call uses them). Returns
 * PATRON_OK, or PATRON_E_INVALID (a file does not load: err->field is "cert", "key" or "ca";
 * or the handle is not tls://). A TLS failure at connect time (the daemon refused the
 * certificate, its certificate did not verify) is PATRON_E_UNAVAILABLE with the reason in
 * err->message. */
PATRON_API int patron_set_tls(patron_client_t *c, const char *cert_file, const char *key_file,
                              const char *ca_file, patron_error_t *err);

/* Install (or with fn == NULL remove) the notification callback. Without one,
 * notifications are skipped. */
PATRON_API void patron_set_notify(patron_client_t *c, patron_notify_fn fn, void *userdata);

/* Connect now instead of lazily (optional; e.g. to check the daemon at start-up).
 * Returns PATRON_OK or PATRON_E_UNAVAILABLE. err may be NULL. */
PATRON_API int patron_connect(patron_client_t *c, patron_error_t *err);

/* Drop the current connection, if any (the next call reconnects). */
PATRON_API void patron_disconnect(patron_client_t *c);

/* Call method with params = the msgpack encoding of ONE map (the library wraps it in the
 * one-element params array); params NULL or params_len 0 means {}. On PATRON_OK,
 * *result / *result_len receive a malloc'd buffer with the msgpack encoding of the result
 * (nil encodes as 0xc0), to be freed with patron_free(). On failure *result is NULL and
 * err (if non-NULL) is filled. Returns a patron_status_t. */
PATRON_API int patron_call(patron_client_t *c, const char *method, const void *params,
                           size_t params_len, void **result, size_t *result_len,
                           patron_error_t *err);

/* JSON convenience call. params_json is one JSON object (NULL or "" = {}). Returns a
 * malloc'd NUL-terminated JSON text, freed with patron_free(): the result on PATRON_OK,
 * otherwise the error object {"code": ..., "message": ..., "field": ...} (field only when
 * set). *status (if non-NULL) receives the patron_status_t. Returns NULL only when out of
 * memory. Integers stay integers (JSON input: int64 range; output: full int64/uint64),
 * floats stay floats (output always has a '.' or exponent; NaN/Inf become null); msgpack
 * bin is output as a string, non-string map keys as their JSON text. */
PATRON_API char *patron_call_json(patron_client_t *c, const char *method,
                                  const char *params_json, int *status);

/* Free a buffer returned by this library (NULL is a no-op). */
PATRON_API void patron_free(void *p);

/* Conversions used by patron_call_json, exposed for tools and tests.
 * patron_json_to_msgpack: JSON text -> malloc'd msgpack bytes. Returns PATRON_OK or
 * PATRON_E_INVALID (err filled, code "invalid_params") or PATRON_E_NOMEM.
 * patron_msgpack_to_json: exactly one msgpack object -> malloc'd NUL-terminated JSON text;
 * indent 0 = compact, > 0 = pretty with that many spaces. Returns NULL on malformed
 * input / trailing bytes / out of memory. */
PATRON_API int patron_json_to_msgpack(const char *json, size_t json_len, void **out,
                                      size_t *out_len, patron_error_t *err);
PATRON_API char *patron_msgpack_to_json(const void *data, size_t len, int indent);

#ifdef __cplusplus
}
#endif
#endif

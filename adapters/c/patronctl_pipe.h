/* patronctl_pipe.h -- a pipelined msgpack-RPC connection for patronctl's bulk commands.
 *
 * Owns: one Unix-socket connection on which many requests are in flight at once (the
 * protocol allows it: replies are matched by msgid, possibly out of order). libpatronclient's
 * handle is synchronous by contract (one call, one deadline, fail open), which is right for a
 * checkout and wrong for an import; this is the tool-side counterpart, not exported.
 * Invariants: requests are buffered by pipe_send and written by pipe_flush_some (as they
 * accumulate: the daemon starts on the first ones while later ones are built),
 * pipe_flush and a blocking pipe_recv; a reply is handed out once; any I/O or protocol error
 * is final for the connection (return < 0).
 */
#ifndef PATRONCTL_PIPE_H
#define PATRONCTL_PIPE_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pipe_conn pipe_conn_t;

/* A decoded reply; the objects are valid until the next pipe_recv. */
typedef struct pipe_reply {
  uint32_t msgid;
  const msgpack_object *error;  /* NULL when the call succeeded */
  const msgpack_object *result;
} pipe_reply_t;

/* Connect to socket_path (leading '@' = abstract). timeout_ms bounds every wait. NULL and
 * a message in errbuf on failure. */
pipe_conn_t *pipe_open(const char *socket_path, int timeout_ms, char *errbuf, size_t errlen);
void pipe_close(pipe_conn_t *p);

/* Queue [0, msgid, method, [params]]; params is the msgpack of one map. Returns the msgid. */
uint32_t pipe_send(pipe_conn_t *p, const char *method, const void *params, size_t params_len);
/* Write everything queued. 0 or -1 (errbuf of pipe_error). */
int pipe_flush(pipe_conn_t *p);
/* Once PIPE_FLUSH_BYTES are queued: write what the socket takes without waiting. 0 or -1. */
enum { PIPE_FLUSH_BYTES = 64 * 1024 };
int pipe_flush_some(pipe_conn_t *p);
/* Take the next reply: 1 = *r filled, -1 = error/timeout/closed, 0 = none yet (only when
 * block is 0: then nothing waits and nothing is written; with block, everything queued is
 * written first). */
int pipe_recv(pipe_conn_t *p, pipe_reply_t *r, int block);
const char *pipe_error(const pipe_conn_t *p);

/* Copy a msgpack str (or the "message"/"field"/"code" of an error map) into dst. */
void pipe_copy_str(char *dst, size_t cap, const msgpack_object *o);
const msgpack_object *pipe_map_get(const msgpack_object *map, const char *key);

#endif

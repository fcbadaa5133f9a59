/* client_internal.h -- declarations shared by libpatronclient's own files (not installed).
 * Owns: the error-filling helper and the JSON <-> msgpack converters' internal entry
 * points. Invariant: nothing here is exported from the shared library (hidden visibility). */
#ifndef PATRON_CLIENT_INTERNAL_H
#define PATRON_CLIENT_INTERNAL_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "patronclient.h"

#define PC_HIDDEN __attribute__((visibility("hidden")))

/* CLOCK_MONOTONIC in ms: the clock of every call's deadline. */
PC_HIDDEN int64_t pc_now_ms(void);
/* poll one fd for events until the deadline: 1 ready, 0 deadline passed, -1 error. */
PC_HIDDEN int pc_wait_fd(int fd, short events, int64_t deadline, short *revents);

/* Fill *e (if non-NULL) with status, code, field (NULL = "") and a printf message;
 * returns status. */
PC_HIDDEN int pc_seterr(patron_error_t *e, int status, const char *code, const char *field,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Parse JSON text and append its msgpack encoding to pk. require_object: the top level
 * must be a JSON object. Returns PATRON_OK, PATRON_E_INVALID or PATRON_E_NOMEM. */
PC_HIDDEN int pc_json_pack(const char *json, size_t len, int require_object,
                           msgpack_packer *pk, patron_error_t *err);

/* Render one msgpack object as malloc'd JSON (indent 0 = compact). NULL when out of
 * memory. */
PC_HIDDEN char *pc_obj_to_json(const msgpack_object *o, int indent);

/* Render an error as {"code":..,"message":..,"field":..} (field omitted when empty). */
PC_HIDDEN char *pc_error_json(const patron_error_t *e);

#endif

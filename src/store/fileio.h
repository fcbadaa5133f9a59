/* fileio.h -- whole-file I/O for persisted models: an atomic, durable write (a crash leaves
 * the old file or the new one, never a torn one) and a whole-file read.
 * Invariant: file_write_atomic returns 0 only after the data and the rename are on disk. */
#ifndef PATRON_FILEIO_H
#define PATRON_FILEIO_H

#include <stddef.h>

#include "base/perr.h"

/* Write the concatenation of nparts buffers to path: path.tmp, fsync, rename, fsync of the
 * directory. PERR_UNAVAILABLE with the reason on failure (the old file is untouched). */
int file_write_atomic(const char *path, const void *const *parts, const size_t *lens, int nparts,
                      perr_info_t *e);
/* Read the whole file into a malloc'd buffer (free it). PERR_NOT_FOUND if it does not exist. */
int file_read_all(const char *path, unsigned char **buf, size_t *n, perr_info_t *e);

#endif

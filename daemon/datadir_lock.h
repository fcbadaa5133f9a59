/* datadir_lock.h -- one patrond per data directory: an exclusive flock(2) on
 * <data_dir>/patrond.lock, taken before the store is opened and held (fd left open) for the
 * life of the process; the kernel drops it when the process dies, however it dies. The file
 * holds the holder's pid, for the message a second daemon prints. */
#ifndef PATRON_DATADIR_LOCK_H
#define PATRON_DATADIR_LOCK_H

#include <stddef.h>

#define DATADIR_LOCK_FILE "patrond.lock"

/* Creates the data directory (0700) if missing, then locks it. Returns the lock's fd (>= 0,
 * keep it open), or -1 with a message naming the directory (and the holder's pid when
 * readable) in err. */
int datadir_lock(const char *data_dir, char *err, size_t errlen);

#endif

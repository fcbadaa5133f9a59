/* datadir_lock.c -- see datadir_lock.h. */
#include "datadir_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int datadir_lock(const char *data_dir, char *err, size_t errlen) {
  char path[4200];
  if (mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "cannot create the data directory %s: %s", data_dir, strerror(errno));
    return -1;
  }
  snprintf(path, sizeof path, "%s/%s", data_dir, DATADIR_LOCK_FILE);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    snprintf(err, errlen, "cannot open the lock file %s: %s", path, strerror(errno));
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int saved = errno;
    char buf[32] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
    close(fd);
    if (saved == EWOULDBLOCK && pid > 0)
      snprintf(err, errlen, "the data directory %s is in use by another patrond (pid %ld)",
               data_dir, pid);
    else if (saved == EWOULDBLOCK)
      snprintf(err, errlen, "the data directory %s is in use by another patrond", data_dir);
    else
      snprintf(err, errlen, "cannot lock %s: %s", path, strerror(saved));
    return -1;
  }
  char pid[32];
  int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
    /* the lock holds regardless; only the pid in the message of a second daemon is lost */
  }
  return fd;
}

/* fileio.c -- see fileio.h. */
#include "store/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_full(int fd, const unsigned char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int file_write_atomic(const char *path, const void *const *parts, const size_t *lens, int nparts,
                      perr_info_t *e) {
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 5);
  if (!tmp) return perr_set(e, PERR_UNAVAILABLE, NULL, "out of memory");
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".tmp", 5);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int ok = fd >= 0;
  for (int i = 0; i < nparts && ok; i++) ok = write_full(fd, parts[i], lens[i]) == 0;
  ok = ok && fsync(fd) == 0;
  if (fd >= 0) ok = (close(fd) == 0) && ok;
  ok = ok && rename(tmp, path) == 0;
  int err = errno;
  if (!ok) {
    unlink(tmp);
    free(tmp);
    return perr_set(e, PERR_UNAVAILABLE, NULL, "cannot write %s: %s", path, strerror(err));
  }
  free(tmp);
  /* the rename itself must survive a crash: sync the directory */
  char *dir = strdup(path);
  char *slash = dir ? strrchr(dir, '/') : NULL;
  if (slash) {
    if (slash == dir) slash[1] = 0;
    else *slash = 0;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      (void)fsync(dfd);
      close(dfd);
    }
  }
  free(dir);
  return 0;
}

int file_read_all(const char *path, unsigned char **buf, size_t *n, perr_info_t *e) {
  *buf = NULL;
  *n = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return perr_set(e, errno == ENOENT ? PERR_NOT_FOUND : PERR_UNAVAILABLE, NULL,
                    "cannot open %s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size < 0) {
    close(fd);
    return perr_set(e, PERR_UNAVAILABLE, NULL, "cannot stat %s", path);
  }
  size_t size = (size_t)st.st_size;
  unsigned char *b = malloc(size ? size : 1);
  size_t got = 0;
  while (b && got < size) {
    ssize_t r = read(fd, b + got, size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  if (!b || got != size) {
    free(b);
    return perr_set(e, PERR_UNAVAILABLE, NULL, "cannot read %s", path);
  }
  *buf = b;
  *n = size;
  return 0;
}

/* notify.c -- see notify.h. */
#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int notify_send(const char *state) {
  const char *path = getenv("NOTIFY_SOCKET");
  if (!path || !*path) return 0;
  size_t len = strlen(path);
  struct sockaddr_un sa;
  if (len >= sizeof sa.sun_path) return -EINVAL;
  if (path[0] != '/' && path[0] != '@') return -EAFNOSUPPORT;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path, len);
  if (path[0] == '@') sa.sun_path[0] = 0;
  socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '/'));
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
  int err = n < 0 ? -errno : 1;
  close(fd);
  return err;
}

uint64_t notify_watchdog_usec(void) {
  const char *u = getenv("WATCHDOG_USEC"), *p = getenv("WATCHDOG_PID");
  if (!u) return 0;
  if (p && strtol(p, NULL, 10) != (long)getpid()) return 0;
  return strtoull(u, NULL, 10);
}

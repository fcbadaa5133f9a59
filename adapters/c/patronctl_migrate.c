/* patronctl_migrate.c -- `patronctl migrate`: move a node's embedded LMDB store into the
 * PostgreSQL database of a fleet (docs/SCALEOUT.md). The copy itself is patrond's
 * (`patrond --migrate-embedded`: it owns the store format, the schema migrations and the
 * data-dir lock, so it refuses while a patrond runs on that directory); this command only
 * builds its command line and runs it in place of itself.
 * usage: patronctl migrate --postgresql CONNINFO [--data-dir D] [--config FILE]
 * The patrond binary: $PATROND, else /usr/sbin/patrond. Exit: patrond's (0 = copied). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int patronctl_migrate(int argc, char **argv);

int patronctl_migrate(int argc, char **argv) {
  static const struct option lo[] = {{"postgresql", required_argument, 0, 'p'},
                                     {"data-dir", required_argument, 0, 'd'},
                                     {"config", required_argument, 0, 'f'},
                                     {0, 0, 0, 0}};
  const char *conninfo = NULL, *data_dir = NULL, *config = NULL;
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    switch (ch) {
      case 'p': conninfo = optarg; break;
      case 'd': data_dir = optarg; break;
      case 'f': config = optarg; break;
      default:
        fprintf(stderr, "patronctl: usage: patronctl migrate --postgresql CONNINFO "
                        "[--data-dir D] [--config FILE]\n");
        return 64;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "patronctl: migrate: unexpected argument '%s'\n", argv[optind]);
    return 64;
  }
  static char backend[] = "store.backend=postgresql";
  char *set_conn = NULL;
  const char *patrond = getenv("PATROND");
  if (!patrond || !*patrond) patrond = "/usr/sbin/patrond";
  char *args[16];
  int n = 0;
  args[n++] = (char *)patrond;
  if (config) args[n++] = "-c", args[n++] = (char *)config;
  if (data_dir) args[n++] = "--data-dir", args[n++] = (char *)data_dir;
  args[n++] = "--set", args[n++] = backend;
  if (conninfo) {
    if (asprintf(&set_conn, "store.postgresql=%s", conninfo) < 0) return 1;
    args[n++] = "--set", args[n++] = set_conn;
  }
  args[n++] = "--migrate-embedded";
  args[n] = NULL;
  execv(patrond, args);
  perror(patrond);
  free(set_conn);
  return 2;
}

/* patronctl.c -- command-line client for patrond, built on libpatronclient.
 *
 * Owns: argument parsing, output formatting and exit codes. Invariants: results go to
 * stdout as pretty JSON; errors go to stderr (the daemon's error object as JSON);
 * exit 0 ok, 1 error answered by the daemon (or a malformed reply), 2 unavailable
 * (no daemon / timed out), 64 usage (bad arguments or params JSON).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patronclient.h"

enum { EXIT_OKAY = 0, EXIT_REMOTE = 1, EXIT_UNAVAIL = 2, EXIT_USAGE = 64 };

static void usage(FILE *f) {
  fprintf(f,
          "Usage: patronctl [OPTIONS] COMMAND [ARGS]   (options may come anywhere)\n"
          "\n"
          "Commands:\n"
          "  call METHOD ['JSON']   call METHOD with params JSON (an object; default {};\n"
          "                         '-' reads it from standard input)\n"
          "  ping | health | stats  same as: call ping / health / stats\n"
          "  report [--from T] [--to T] [--currency XXX] [--format table|json] [--html FILE]\n"
          "                         KPI report (kpi.report) for [from, to): T is seconds or\n"
          "                         YYYY-MM-DD (UTC); default the last 30 days, main currency;\n"
          "                         --html writes a self-contained page with charts\n"
          "  import orders|customers|products FILE [--format csv|ndjson] [--currency XXX]\n"
          "         [--window N] [--max-errors N] [--no-progress]\n"
          "                         bulk load a CSV (header row) or NDJSON file, pipelined;\n"
          "                         bad rows reported as FILE:LINE: field; re-run to resume\n"
          "  backup DIR [--data-dir D]   consistent copy of the store, models and SHA256SUMS\n"
          "  restore DIR [--data-dir D] [--force]\n"
          "                         verify the checksums and restore (patrond stopped)\n"
          "\n"
          "Options:\n"
          "  -s, --socket PATH      daemon socket (default $PATRON_SOCKET, else %s), or\n"
          "                         tls://HOST:PORT with $PATRON_TLS_CERT, _KEY and _CA (call, report)\n"
          "  -t, --timeout MS       per-call timeout in milliseconds (default %d)\n"
          "  -c, --compact          print compact JSON instead of indented\n"
          "      --json             machine-readable output (summaries as JSON)\n"
          "  -h, --help             show this help\n"
          "  -V, --version          show the version\n"
          "\n"
          "Exit status: 0 ok, 1 the daemon answered with an error (printed as JSON on\n"
          "stderr) or an import had bad rows, 2 daemon unavailable or timed out, 64 usage.\n",
          PATRON_DEFAULT_SOCKET, PATRON_DEFAULT_TIMEOUT_MS);
}

static char *read_stdin(void) {
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  if (!buf) return NULL;
  size_t n;
  while ((n = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
    len += n;
    if (cap - len - 1 == 0) {
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        return NULL;
      }
      buf = nb;
      cap *= 2;
    }
  }
  buf[len] = '\0';
  return buf;
}

/* patronctl_import.c, patronctl_backup.c */
int patronctl_import(const char *sock, int timeout_ms, int json_out, int argc, char **argv);
int patronctl_backup(const char *cmd, const char *sock, int json_out, int argc, char **argv);

/* patronctl_report.c */
int patronctl_report(patron_client_t *c, int argc, char **argv, int indent, int json_out,
                     void (*print_error)(const patron_error_t *e));

static void print_error(const patron_error_t *e) {
  /* The error object as JSON, rendered by the library's own converter from a small
   * msgpack map {code, message, field?} (every field is under 256 bytes: str8). */
  fprintf(stderr, "patronctl: %s\n", patron_strerror(e->status));
  unsigned char mp[sizeof e->code + sizeof e->message + sizeof e->field + 64];
  size_t off = 0;
  int nkeys = e->field[0] ? 3 : 2;
  mp[off++] = (unsigned char)(0x80 | nkeys);
  const char *keys[3] = {"code", "message", "field"};
  const char *vals[3] = {e->code, e->message, e->field};
  for (int i = 0; i < nkeys; i++) {
    const char *s[2] = {keys[i], vals[i]};
    for (int k = 0; k < 2; k++) {
      size_t n = strlen(s[k]);
      mp[off++] = 0xd9; /* str8: every field is shorter than 256 bytes */
      mp[off++] = (unsigned char)n;
      memcpy(mp + off, s[k], n);
      off += n;
    }
  }
  char *txt = patron_msgpack_to_json(mp, off, 2);
  fprintf(stderr, "%s\n", txt ? txt : "{}");
  patron_free(txt);
}

/* Global options may appear anywhere on the command line (before or after the command and
 * its arguments; "--" ends them). They are taken out of argv here, so each command parses
 * only its own options. Returns -1 to continue, else an exit status. */
static int take_global_options(int *argc, char **argv, const char **sock, int *timeout,
                               int *indent, int *json_out) {
  int out = 1;
  for (int i = 1; i < *argc; i++) {
    const char *a = argv[i];
    const char *val = NULL;
    int takes = !strcmp(a, "-s") || !strcmp(a, "--socket") || !strcmp(a, "-t") ||
                !strcmp(a, "--timeout");
    if (!strcmp(a, "--")) {
      while (i < *argc) argv[out++] = argv[i++];
      break;
    }
    if (!strncmp(a, "--socket=", 9) || !strncmp(a, "--timeout=", 10)) {
      val = strchr(a, '=') + 1;
    } else if (takes) {
      if (i + 1 >= *argc) {
        fprintf(stderr, "patronctl: %s needs a value\n", a);
        return EXIT_USAGE;
      }
      val = argv[++i];
    }
    if (val) {
      if (a[1] == 's' || a[2] == 's') {
        *sock = val;
      } else {
        char *end;
        long v = strtol(val, &end, 10);
        if (*val == '\0' || *end != '\0' || v <= 0 || v > 86400000) {
          fprintf(stderr, "patronctl: invalid timeout '%s' (milliseconds, > 0)\n", val);
          return EXIT_USAGE;
        }
        *timeout = (int)v;
      }
    } else if (!strcmp(a, "-c") || !strcmp(a, "--compact")) {
      *indent = 0;
    } else if (!strcmp(a, "--json")) {
      *json_out = 1;
    } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return EXIT_OKAY;
    } else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
      printf("patronctl %s\n", patron_version());
      return EXIT_OKAY;
    } else {
      argv[out++] = argv[i];
    }
  }
  *argc = out;
  argv[out] = NULL;
  return -1;
}

/* patron_open, plus for a tls://host:port address the client certificate, key and CA from
 * PATRON_TLS_CERT, PATRON_TLS_KEY and PATRON_TLS_CA. NULL after printing why. */
static patron_client_t *open_client(const char *sock, int timeout) {
  patron_client_t *c = patron_open(sock, timeout);
  if (!c) {
    fprintf(stderr, "patronctl: invalid socket path or tls:// URL '%s'\n",
            sock ? sock : PATRON_DEFAULT_SOCKET);
    return NULL;
  }
  patron_error_t err;
  if (sock && !strncmp(sock, "tls://", 6) &&
      patron_set_tls(c, getenv("PATRON_TLS_CERT"), getenv("PATRON_TLS_KEY"),
                     getenv("PATRON_TLS_CA"), &err) != PATRON_OK) {
    fprintf(stderr, "patronctl: PATRON_TLS_%s: %s\n",
            !strcmp(err.field, "key") ? "KEY" : !strcmp(err.field, "ca") ? "CA" : "CERT",
            err.message);
    patron_close(c);
    return NULL;
  }
  return c;
}

int main(int argc, char **argv) {
  const char *sock = getenv("PATRON_SOCKET");
  int timeout = PATRON_DEFAULT_TIMEOUT_MS;
  int indent = 2, json_out = 0;
  int early = take_global_options(&argc, argv, &sock, &timeout, &indent, &json_out);
  if (early >= 0) return early;
  optind = 1;
  if (optind >= argc) {
    usage(stderr);
    return EXIT_USAGE;
  }
  if (argv[optind][0] == '-' && argv[optind][1]) {
    fprintf(stderr, "patronctl: unknown option '%s' (try --help)\n", argv[optind]);
    return EXIT_USAGE;
  }
  const char *cmd = argv[optind++];
  const char *method = NULL, *params = NULL;
  if (!strcmp(cmd, "import"))
    return patronctl_import(sock, timeout == PATRON_DEFAULT_TIMEOUT_MS ? 60000 : timeout, json_out,
                            argc - optind + 1, argv + optind - 1);
  if (!strcmp(cmd, "backup") || !strcmp(cmd, "restore"))
    return patronctl_backup(cmd, sock, json_out, argc - optind + 1, argv + optind - 1);
  if (!strcmp(cmd, "report")) {
    patron_client_t *rc_c = open_client(sock, timeout);
    if (!rc_c) return EXIT_USAGE;
    int rrc = patronctl_report(rc_c, argc - optind + 1, argv + optind - 1, indent ? indent : 0,
                               json_out, print_error);
    patron_close(rc_c);
    return rrc;
  }
  if (!strcmp(cmd, "call")) {
    if (optind >= argc || argc - optind > 2) {
      fprintf(stderr, "patronctl: usage: patronctl call METHOD ['JSON']\n");
      return EXIT_USAGE;
    }
    method = argv[optind];
    params = optind + 1 < argc ? argv[optind + 1] : NULL;
  } else if (!strcmp(cmd, "ping") || !strcmp(cmd, "stats") || !strcmp(cmd, "health")) {
    if (optind < argc) {
      fprintf(stderr, "patronctl: %s takes no arguments\n", cmd);
      return EXIT_USAGE;
    }
    method = cmd;
  } else {
    fprintf(stderr, "patronctl: unknown command '%s' (try --help)\n", cmd);
    return EXIT_USAGE;
  }

  char *stdin_buf = NULL;
  if (params && !strcmp(params, "-")) {
    stdin_buf = read_stdin();
    if (!stdin_buf) {
      fprintf(stderr, "patronctl: cannot read standard input\n");
      return EXIT_USAGE;
    }
    params = stdin_buf;
  }

  patron_error_t err;
  void *mp = NULL;
  size_t mplen = 0;
  if (params && *params) {
    int r = patron_json_to_msgpack(params, strlen(params), &mp, &mplen, &err);
    unsigned char b0 = mplen ? ((unsigned char *)mp)[0] : 0;
    int is_map = (b0 >= 0x80 && b0 <= 0x8f) || b0 == 0xde || b0 == 0xdf;
    if (r == PATRON_OK && !is_map) {
      snprintf(err.message, sizeof err.message, "params JSON must be an object");
      r = PATRON_E_INVALID;
    }
    if (r != PATRON_OK) {
      fprintf(stderr, "patronctl: %s\n", err.message);
      patron_free(mp);
      free(stdin_buf);
      return EXIT_USAGE;
    }
  }

  patron_client_t *c = open_client(sock, timeout);
  if (!c) {
    patron_free(mp);
    free(stdin_buf);
    return EXIT_USAGE;
  }
  void *res = NULL;
  size_t reslen = 0;
  int r = patron_call(c, method, mp, mplen, &res, &reslen, &err);
  int rc;
  if (r == PATRON_OK) {
    char *txt = patron_msgpack_to_json(res, reslen, indent);
    if (txt) {
      printf("%s\n", txt);
      rc = EXIT_OKAY;
    } else {
      fprintf(stderr, "patronctl: cannot render the result as JSON\n");
      rc = EXIT_REMOTE;
    }
    patron_free(txt);
  } else {
    print_error(&err);
    rc = r == PATRON_E_UNAVAILABLE ? EXIT_UNAVAIL : r == PATRON_E_INVALID ? EXIT_USAGE
                                                                          : EXIT_REMOTE;
  }
  patron_free(res);
  patron_free(mp);
  free(stdin_buf);
  patron_close(c);
  return rc;
}

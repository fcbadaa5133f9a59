/* fuzz_config.c -- libFuzzer target: patrond's configuration parser (daemon/config.c over
 * libinih). The input is written to a temporary file in /dev/shm (tmpfs: a disk file costs
 * milliseconds per run here) and loaded with config_load over the
 * defaults, then resolved, validated and printed, as main.c does; its lines are also tried as
 * "section.key=value" command-line overrides (config_set). Invariant checked: a settings_t
 * that config_load accepted still prints and validates without memory errors, and every
 * rejection comes with a message. */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

static char path[64];

static void remove_file(void) { unlink(path); }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  snprintf(path, sizeof path, "/dev/shm/patron-fuzz-config-%d.conf", (int)getpid());
  log_set_level(LOG_LVL_ERR);
  atexit(remove_file);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static settings_t s;
  char err[512];
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (size && fwrite(data, 1, size, f) != size) abort();
  fclose(f);
  config_defaults(&s);
  err[0] = 0;
  if (config_load(&s, path, err, sizeof err) == 0) {
    config_resolve(&s);
    err[0] = 0;
    if (config_validate(&s, err, sizeof err) != 0 && !err[0]) abort();
    FILE *null = fopen("/dev/null", "w");
    if (null) {
      config_print(&s, null, 1);
      fclose(null);
    }
  } else if (!err[0]) {
    abort();
  }
  /* each line as a command-line override: --set section.key=value */
  char line[8192];
  size_t start = 0;
  while (start < size) {
    const uint8_t *nl = memchr(data + start, '\n', size - start);
    size_t n = (nl ? (size_t)(nl - data) : size) - start;
    if (n < sizeof line) {
      memcpy(line, data + start, n);
      line[n] = 0;
      char *eq = strchr(line, '=');
      if (eq) {
        *eq = 0;
        err[0] = 0;
        if (config_set(&s, line, eq + 1, err, sizeof err) != 0 && !err[0]) abort();
      }
    }
    start += n + 1;
  }
  return 0;
}

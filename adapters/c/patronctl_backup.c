/* patronctl_backup.c -- `patronctl backup DIR` and `patronctl restore DIR`.
 *
 * Owns: the backup directory's layout and its verification. A backup is
 *   DIR/data.mdb      a compacted copy of the LMDB store (mdb_env_copy2 + MDB_CP_COMPACT runs
 *                     in one read transaction: a consistent snapshot while patrond writes;
 *                     LMDB supports readers in other processes),
 *   DIR/models/...    the model files of <data_dir>/models (derived data, replaced atomically
 *                     by patrond, so each copy is one whole version),
 *   DIR/SHA256SUMS    "HEX  PATH" lines (sha256sum -c compatible), written last: a backup
 *                     without it is incomplete.
 * Invariants: backup never writes into the data directory; restore verifies every checksum
 * before touching the target, refuses while any process has the target store open (LMDB's
 * own lock on lock.mdb, and patrond's data-dir lock file patrond.lock when present), writes
 * each file under a temporary name and renames it, and gives the files the data
 * directory's owner. Every file and directory written is fsync'ed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int patronctl_backup(const char *cmd, const char *sock, int json_out, int argc, char **argv);

#define DEFAULT_DATA_DIR "/var/lib/patron"
enum { MAX_FILES = 256 };

typedef struct file_sum {
  char path[256]; /* relative to the backup directory */
  char hex[65];
  long long size;
} file_sum_t;

/* snprintf for paths: a path that does not fit becomes "" and then fails to open. */
static void jp(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void jp(char *out, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vsnprintf(out, n, fmt, ap);
  va_end(ap);
  if (r < 0 || (size_t)r >= n) out[0] = '\0';
}

static int fsync_path(const char *path, int dir) {
  int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return -1;
  int r = fsync(fd);
  close(fd);
  return r;
}

/* SHA-256 of a file as hex; its size in *size. */
static int sha256_file(const char *path, char hex[65], long long *size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
  static unsigned char buf[1 << 16];
  ssize_t n = 0;
  *size = 0;
  while (ok && (n = read(fd, buf, sizeof buf)) > 0) {
    ok = EVP_DigestUpdate(ctx, buf, (size_t)n) == 1;
    *size += n;
  }
  if (n < 0) ok = 0;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (ok) ok = EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
  for (unsigned i = 0; ok && i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
  EVP_MD_CTX_free(ctx);
  close(fd);
  return ok ? 0 : -1;
}

/* Copy src to dst through dst.tmp (mode 0600), fsync, rename. */
static int copy_file(const char *src, const char *dst, uid_t uid, gid_t gid) {
  char tmp[4200];
  jp(tmp, sizeof tmp, "%s.tmp", dst);
  int in = open(src, O_RDONLY | O_CLOEXEC);
  if (in < 0) return -1;
  int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) {
    close(in);
    return -1;
  }
  static char buf[1 << 16];
  ssize_t n;
  int ok = 1;
  while (ok && (n = read(in, buf, sizeof buf)) > 0)
    for (ssize_t off = 0; ok && off < n;) {
      ssize_t w = write(out, buf + off, (size_t)(n - off));
      if (w <= 0) ok = 0;
      else off += w;
    }
  if (n < 0) ok = 0;
  if (ok && uid != (uid_t)-1 && fchown(out, uid, gid) != 0) ok = 0;
  if (ok && fsync(out) != 0) ok = 0;
  close(in);
  if (close(out) != 0) ok = 0;
  if (ok && rename(tmp, dst) != 0) ok = 0;
  if (!ok) unlink(tmp);
  return ok ? 0 : -1;
}

/* Regular files directly in dir (not *.tmp), sorted. */
static int list_files(const char *dir, char names[][128], int max) {
  DIR *d = opendir(dir);
  if (!d) return errno == ENOENT ? 0 : -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < max) {
    size_t l = strlen(e->d_name);
    if (e->d_name[0] == '.' || l >= 128 || (l > 4 && !strcmp(e->d_name + l - 4, ".tmp")))
      continue;
    char p[4200];
    struct stat st;
    jp(p, sizeof p, "%s/%s", dir, e->d_name);
    if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    memcpy(names[n++], e->d_name, l + 1);
  }
  closedir(d);
  qsort(names, (size_t)n, 128, (int (*)(const void *, const void *))strcmp);
  return n;
}

static int backup(const char *data_dir, const char *dir, int json_out) {
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    fprintf(stderr, "patronctl: cannot create %s: %s\n", dir, strerror(errno));
    return 1;
  }
  char p[4200], q[4200];
  jp(p, sizeof p, "%s/SHA256SUMS", dir);
  jp(q, sizeof q, "%s/data.mdb", dir);
  if (access(p, F_OK) == 0 || access(q, F_OK) == 0) {
    fprintf(stderr, "patronctl: %s already holds a backup; use a new directory\n", dir);
    return 1;
  }
  MDB_env *env = NULL;
  int rc = mdb_env_create(&env);
  if (!rc) rc = mdb_env_set_maxdbs(env, 64);
  if (!rc) rc = mdb_env_open(env, data_dir, MDB_RDONLY, 0600);
  if (!rc) rc = mdb_env_copy2(env, dir, MDB_CP_COMPACT);
  if (env) mdb_env_close(env);
  if (rc) {
    fprintf(stderr, "patronctl: cannot copy the store in %s: %s\n", data_dir, mdb_strerror(rc));
    return 1;
  }
  static file_sum_t sums[MAX_FILES];
  int nsums = 0;
  snprintf(sums[nsums++].path, sizeof sums[0].path, "data.mdb");
  static char names[MAX_FILES][128];
  jp(p, sizeof p, "%s/models", data_dir);
  int nm = list_files(p, names, MAX_FILES - 1);
  if (nm > 0) {
    jp(q, sizeof q, "%s/models", dir);
    if (mkdir(q, 0700) != 0 && errno != EEXIST) nm = -1;
  }
  for (int i = 0; i < nm; i++) {
    jp(p, sizeof p, "%s/models/%s", data_dir, names[i]);
    jp(q, sizeof q, "%s/models/%s", dir, names[i]);
    if (copy_file(p, q, (uid_t)-1, (gid_t)-1) != 0) {
      if (errno == ENOENT) continue; /* replaced by a newer version meanwhile: skip */
      nm = -1;
      break;
    }
    jp(sums[nsums++].path, sizeof sums[0].path, "models/%s", names[i]);
  }
  if (nm < 0) {
    fprintf(stderr, "patronctl: cannot copy %s: %s\n", p, strerror(errno));
    return 1;
  }
  long long total = 0;
  jp(p, sizeof p, "%s/SHA256SUMS.tmp", dir);
  FILE *f = fopen(p, "w");
  for (int i = 0; f && i < nsums; i++) {
    jp(q, sizeof q, "%s/%s", dir, sums[i].path);
    if (sha256_file(q, sums[i].hex, &sums[i].size) != 0) {
      fclose(f);
      f = NULL;
      break;
    }
    total += sums[i].size;
    fprintf(f, "%s  %s\n", sums[i].hex, sums[i].path);
  }
  if (!f || fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0) {
    fprintf(stderr, "patronctl: cannot write the manifest in %s: %s\n", dir, strerror(errno));
    return 1;
  }
  jp(q, sizeof q, "%s/SHA256SUMS", dir);
  jp(p, sizeof p, "%s/data.mdb", dir);
  fsync_path(p, 0);
  jp(p, sizeof p, "%s/SHA256SUMS.tmp", dir);
  if (rename(p, q) != 0 || fsync_path(dir, 1) != 0) {
    fprintf(stderr, "patronctl: cannot finish %s: %s\n", dir, strerror(errno));
    return 1;
  }
  jp(p, sizeof p, "%s/models", dir);
  if (nm > 0) fsync_path(p, 1);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf(json_out ? "{\"backup\": \"%s\", \"files\": %d, \"bytes\": %lld, \"seconds\": %.3f}\n"
                  : "backup %s: %d files, %lld bytes, %.3f s\n",
         dir, nsums, total, el);
  return 0;
}

/* Read SHA256SUMS and check every file. Returns the count, or -1 (reported). */
static int verify(const char *dir, file_sum_t *sums) {
  char p[4200], q[4200], line[512];
  jp(p, sizeof p, "%s/SHA256SUMS", dir);
  FILE *f = fopen(p, "r");
  if (!f) {
    fprintf(stderr, "patronctl: %s: %s (not a complete backup)\n", p, strerror(errno));
    return -1;
  }
  int n = 0, bad = 0, has_data = 0;
  while (fgets(line, sizeof line, f) && n < MAX_FILES) {
    file_sum_t *s = &sums[n];
    char hex[65];
    if (sscanf(line, "%64[0-9a-f]  %255[^\n]", s->hex, s->path) != 2 || strlen(s->hex) != 64 ||
        strstr(s->path, "..") || s->path[0] == '/' ||
        (strcmp(s->path, "data.mdb") && strncmp(s->path, "models/", 7)) ||
        strchr(s->path + (s->path[0] == 'm' ? 7 : 0), '/')) {
      fprintf(stderr, "patronctl: %s:%d: malformed line\n", p, n + bad + 1);
      bad++;
      continue;
    }
    jp(q, sizeof q, "%s/%s", dir, s->path);
    if (sha256_file(q, hex, &s->size) != 0) {
      fprintf(stderr, "patronctl: %s: %s\n", q, strerror(errno));
      bad++;
    } else if (strcmp(hex, s->hex)) {
      fprintf(stderr, "patronctl: %s: checksum mismatch (backup damaged)\n", q);
      bad++;
    }
    has_data |= !strcmp(s->path, "data.mdb");
    n++;
  }
  fclose(f);
  if (!has_data && !bad) {
    fprintf(stderr, "patronctl: %s lists no data.mdb\n", p);
    bad++;
  }
  return bad ? -1 : n;
}

/* 1 when a process has the store in data_dir open: LMDB holds a shared fcntl lock on
 * lock.mdb for as long as an environment is open; patrond also flocks patrond.lock. */
static int store_in_use(const char *data_dir, char *why, size_t whylen) {
  char p[4200];
  jp(p, sizeof p, "%s/patrond.lock", data_dir);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    int busy = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    if (busy) {
      snprintf(why, whylen, "patrond holds %s", p);
      return 1;
    }
  }
  jp(p, sizeof p, "%s/lock.mdb", data_dir);
  fd = open(p, O_RDWR | O_CLOEXEC);
  if (fd < 0) return 0;
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
  int busy = fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
  close(fd);
  if (busy) snprintf(why, whylen, "process %ld has the store open (%s)", (long)fl.l_pid, p);
  return busy;
}

static int restore(const char *dir, const char *data_dir, int force, int json_out) {
  static file_sum_t sums[MAX_FILES];
  char p[4200], q[4200], why[4300];
  if (store_in_use(data_dir, why, sizeof why)) {
    fprintf(stderr, "patronctl: refusing to restore into %s: %s; stop patrond first\n", data_dir,
            why);
    return 1;
  }
  int n = verify(dir, sums);
  if (n < 0) return 1;
  jp(p, sizeof p, "%s/data.mdb", data_dir);
  if (!force && access(p, F_OK) == 0) {
    fprintf(stderr, "patronctl: %s exists; pass --force to replace the store\n", p);
    return 1;
  }
  if (mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
    fprintf(stderr, "patronctl: cannot create %s: %s\n", data_dir, strerror(errno));
    return 1;
  }
  struct stat st;
  uid_t uid = (uid_t)-1;
  gid_t gid = (gid_t)-1;
  if (stat(data_dir, &st) == 0 && geteuid() == 0) uid = st.st_uid, gid = st.st_gid;
  jp(p, sizeof p, "%s/models", data_dir);
  if (mkdir(p, 0700) != 0 && errno != EEXIST) {
    fprintf(stderr, "patronctl: cannot create %s: %s\n", p, strerror(errno));
    return 1;
  }
  if (uid != (uid_t)-1 && chown(p, uid, gid) != 0) {
    fprintf(stderr, "patronctl: chown %s: %s\n", p, strerror(errno));
    return 1;
  }
  long long total = 0;
  for (int i = 0; i < n; i++) {
    jp(p, sizeof p, "%s/%s", dir, sums[i].path);
    jp(q, sizeof q, "%s/%s", data_dir, sums[i].path);
    if (copy_file(p, q, uid, gid) != 0) {
      fprintf(stderr, "patronctl: cannot write %s: %s\n", q, strerror(errno));
      return 1;
    }
    total += sums[i].size;
  }
  /* The old reader table belongs to the replaced store: LMDB rebuilds it on the next open. */
  jp(p, sizeof p, "%s/lock.mdb", data_dir);
  unlink(p);
  jp(p, sizeof p, "%s/models", data_dir);
  if (fsync_path(p, 1) != 0 || fsync_path(data_dir, 1) != 0) {
    fprintf(stderr, "patronctl: cannot sync %s: %s\n", data_dir, strerror(errno));
    return 1;
  }
  printf(json_out ? "{\"restored\": \"%s\", \"into\": \"%s\", \"files\": %d, \"bytes\": %lld}\n"
                  : "restored %s into %s: %d files, %lld bytes, checksums verified\n",
         dir, data_dir, n, total);
  return 0;
}

int patronctl_backup(const char *cmd, const char *sock, int json_out, int argc, char **argv) {
  (void)sock;
  static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'},
                                       {"force", no_argument, NULL, 'f'},
                                       {NULL, 0, NULL, 0}};
  const char *data_dir = getenv("PATRON_DATA_DIR");
  if (!data_dir || !*data_dir) data_dir = DEFAULT_DATA_DIR;
  int force = 0, ch;
  int is_backup = !strcmp(cmd, "backup");
  optind = 1;
  while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (ch == 'd') data_dir = optarg;
    else if (ch == 'f' && !is_backup) force = 1;
    else optind = argc + 1;
  }
  if (optind != argc - 1) {
    fprintf(stderr, is_backup ? "usage: patronctl backup DIR [--data-dir DATA_DIR]\n"
                              : "usage: patronctl restore DIR [--data-dir DATA_DIR] [--force]\n");
    return 64;
  }
  return is_backup ? backup(data_dir, argv[optind], json_out)
                   : restore(argv[optind], data_dir, force, json_out);
}

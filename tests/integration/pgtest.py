"""pgtest.py -- a real PostgreSQL 15 (Debian's binaries) for tests: a throw-away cluster in a
temporary directory, reachable only through a Unix socket in that directory (no TCP port), run
as the calling user, or as `postgres` when the tests run as root (initdb refuses root). No
mocks: the tests talk to it with Debian's psql and point patrond at it with a libpq string.
Owns: its temp directory and its postmaster (stopped by pg_ctl on that directory only)."""
import os
import pwd
import shutil
import subprocess
import tempfile

BIN = "/usr/lib/postgresql/15/bin"


def available():
    return os.path.exists(os.path.join(BIN, "initdb")) and os.path.exists(os.path.join(BIN, "psql"))


class Postgres:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="patron-pg-")
        self.data = os.path.join(self.tmp, "data")
        self.sock = os.path.join(self.tmp, "sock")
        self.log = os.path.join(self.tmp, "postgres.log")
        self.as_user = []
        os.mkdir(self.sock)
        os.mkdir(self.data, 0o700)
        if os.getuid() == 0:  # initdb refuses root: the cluster runs as postgres
            pg = pwd.getpwnam("postgres")
            os.chmod(self.tmp, 0o711)
            for d in (self.sock, self.data):
                os.chown(d, pg.pw_uid, pg.pw_gid)
            open(self.log, "w").close()
            os.chown(self.log, pg.pw_uid, pg.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run([os.path.join(BIN, "initdb"), "-D", self.data, "-A", "trust", "-U", "postgres",
                   "-E", "UTF8", "--no-sync"])

    def _run(self, args, check=True, **kw):
        r = subprocess.run(self.as_user + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           **kw)
        if check and r.returncode != 0:
            raise RuntimeError("%s failed: %s" % (args[0], r.stdout.decode(errors="replace")))
        return r

    def start(self):
        # fsync off: a test machine; a restart (not a power cut) keeps every committed write
        opts = "-k %s -c listen_addresses='' -c fsync=off -c max_connections=60" % self.sock
        self._run([os.path.join(BIN, "pg_ctl"), "-D", self.data, "-o", opts, "-l", self.log,
                   "-w", "-t", "30", "start"])
        return self

    def stop(self, mode="fast"):
        self._run([os.path.join(BIN, "pg_ctl"), "-D", self.data, "-m", mode, "-w", "stop"],
                  check=False)

    def conninfo(self, db="postgres"):
        return "host=%s user=postgres dbname=%s" % (self.sock, db)

    def psql(self, sql, db="postgres"):
        """Run sql with psql; its rows as lists of strings."""
        r = subprocess.run([os.path.join(BIN, "psql"), "-X", "-q", "-At", "-F", "\t", "-v",
                            "ON_ERROR_STOP=1", "-h", self.sock, "-U", "postgres", "-d", db,
                            "-c", sql], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise RuntimeError("psql: " + r.stderr.decode(errors="replace"))
        out = r.stdout.decode()
        return [line.split("\t") for line in out.splitlines() if line]

    def create_db(self, name):
        self.psql("CREATE DATABASE %s" % name)
        return self.conninfo(name)

    def cleanup(self):
        self.stop("immediate")
        shutil.rmtree(self.tmp, ignore_errors=True)


def main(module, doc):
    """The __main__ of a suite that runs on its own cluster: argv[1] is patrond (set as the
    module's PATROND), exit 77 (skipped) without PostgreSQL 15, the cluster as the module's PG
    for the tests, removed at the end."""
    import sys
    import unittest
    if len(sys.argv) < 2:
        sys.exit(doc)
    module.PATROND = sys.argv.pop(1)
    if not available():
        print("skip: postgresql-15 not installed (/usr/lib/postgresql/15/bin)")
        sys.exit(77)
    module.PG = Postgres().start()
    try:
        unittest.main(module=module, verbosity=2)
    finally:
        module.PG.cleanup()


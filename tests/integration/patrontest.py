"""patrontest.py -- helpers for integration tests: start the real patrond on a temporary
socket and data directory (with --no-config unless the test passes its own -c), and a raw
msgpack-RPC client built on Debian's python3-msgpack (an independent, third-party
implementation of the wire protocol)."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import msgpack

# How much slower than a plain build the daemon runs (ThreadSanitizer: several times): scales
# the waits for answers, never what a test asserts. scripts/test.sh sets it for the TSan run.
SLOWDOWN = float(os.environ.get("PATRON_TEST_SLOWDOWN", "1"))


class Daemon:
    def __init__(self, binary, extra=(), data_dir=None, sync=True):
        self.binary = binary
        self.tmp = tempfile.mkdtemp(prefix="patron-it-")
        self.sock = os.path.join(self.tmp, "p.sock")
        self.admin = os.path.join(self.tmp, "a.sock")
        self.data = data_dir or os.path.join(self.tmp, "data")
        self.extra = list(extra)
        self.sync = sync
        self.proc = None
        self.log = os.path.join(self.tmp, "patrond.log")

    def pg_args(self):
        """PATRON_TEST_PG_HOST (a PostgreSQL socket directory, set by run_on_postgresql.py):
        run this daemon on the PostgreSQL backend, on a database of its own (one per data
        directory, so a restart finds its data again)."""
        host = os.environ.get("PATRON_TEST_PG_HOST")
        if not host or any("store.backend" in a for a in self.extra):
            return []
        import hashlib
        db = "it_" + hashlib.sha256(os.path.abspath(self.data).encode()).hexdigest()[:16]
        psql = ["/usr/lib/postgresql/15/bin/psql", "-X", "-q", "-h", host, "-U", "postgres",
                "-d", "postgres"]
        exists = subprocess.run(psql + ["-Atc", "SELECT 1 FROM pg_database WHERE datname = '%s'"
                                        % db], stdout=subprocess.PIPE, check=True).stdout.strip()
        if not exists:
            subprocess.run(psql + ["-c", "CREATE DATABASE %s" % db], check=True,
                           stdout=subprocess.DEVNULL)
        self.pg_psql = psql[:-1] + [db]
        return ["--set", "store.backend=postgresql",
                "--set", "store.postgresql=host=%s user=postgres dbname=%s" % (host, db)]

    def start(self, extra=()):
        args = [self.binary, "--socket", self.sock, "--admin-socket", self.admin,
                "--data-dir", self.data, "--foreground"] + self.pg_args()
        if not self.sync:
            args += ["--set", "store.sync=false"]
        args += self.extra + list(extra)
        if "-c" not in args and "--config" not in args:
            args.append("--no-config")  # hermetic: never the host's /etc/patron/patrond.conf
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=self.logf)
        deadline = time.time() + 10 * SLOWDOWN
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("patrond exited early: " + self.read_log())
            try:
                c = Client(self.sock)
                c.call("ping")
                c.close()
                return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("patrond did not come up: " + self.read_log())

    def read_log(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def log_count(self, needle):
        return self.read_log().count(needle)

    def wait_for_log(self, needle, before, timeout=10):
        """Wait until the log holds more than `before` lines with needle (count taken before
        the action that logs it, e.g. a SIGHUP)."""
        wait_until(lambda: self.log_count(needle) > before, timeout,
                   "patrond never logged %r; log:\n%s" % (needle, self.read_log()))

    def stop(self, sig=signal.SIGTERM, timeout=15 * SLOWDOWN):
        if not self.proc:
            return None
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        self.proc = None
        self.logf.close()
        if rc == 0 and sig != signal.SIGKILL and getattr(self, "pg_psql", None):
            self.check_local_copy()
        return rc

    # local-only META keys: the copy's own bookkeeping and LMDB's schema stamp
    LOCAL_META = {b"pg.applied_pos", b"pg.cluster_id", b"schema_version", b"scrub"}

    # PostgreSQL backend: records (tbl, key hex, val hex) that may be in the database and not
    # in the local copy (a test whose local copy is full on purpose: docs/SCALEOUT.md section 6)
    db_ahead_ok = staticmethod(lambda rec: False)

    def check_local_copy(self):
        """PostgreSQL backend, after a clean stop of the only node on its database: the local
        LMDB copy (mdb_dump) holds exactly patron_kv, record for record. A savepoint whose
        rejected writes reached the database but not the copy (or the reverse) fails here."""
        dump = subprocess.run(["mdb_dump", "-a", os.path.join(self.data, "pg-local")],
                              stdout=subprocess.PIPE, check=True).stdout.decode().splitlines()
        local, table, data, pending = set(), None, False, None
        for line in dump:
            if line.startswith("database="):
                table = line.split("=", 1)[1]
            elif line == "HEADER=END":
                data, pending = True, None
            elif line == "DATA=END":
                data = False
            elif data:
                if pending is None:
                    pending = line.strip()
                else:
                    local.add((table, pending, line.strip()))
                    pending = None
        rows = subprocess.run(self.pg_psql + ["-At", "-F", " ", "-c",
                                              "SELECT tbl, encode(key, 'hex'), encode(val, 'hex') "
                                              "FROM patron_kv"],
                              stdout=subprocess.PIPE, check=True).stdout.decode().splitlines()
        database = {tuple((r.split(" ") + [""])[:3]) for r in rows if r}

        def shared(recs):
            return {r for r in recs
                    if not (r[0] == "meta" and bytes.fromhex(r[1]) in self.LOCAL_META)}
        only_local, only_db = shared(local) - shared(database), shared(database) - shared(local)
        only_db = {r for r in only_db if not self.db_ahead_ok(r)}
        if only_local or only_db:
            raise AssertionError("local copy and PostgreSQL differ: only local %r, only in "
                                 "the database %r" % (sorted(only_local)[:5], sorted(only_db)[:5]))

    def cleanup(self):
        if self.proc and getattr(self, "pg_psql", None):
            self.stop()  # a clean stop, then the local copy is checked against the database
        if self.proc:
            self.stop(signal.SIGKILL)
        shutil.rmtree(self.tmp, ignore_errors=True)


class BuildGate:
    """The daemon's test hook PATRON_DEBUG_BUILD_GATE (daemon/models.c): a FIFO on which the
    worker holds every model build at its start. started() returns once a build waits at the
    gate; release() lets it go on."""

    def __init__(self, daemon):
        self.path = os.path.join(daemon.tmp, "build.gate")
        os.mkfifo(self.path)

    def start(self, daemon, extra=()):
        """Start daemon with the hook set (for it only)."""
        os.environ["PATRON_DEBUG_BUILD_GATE"] = self.path
        try:
            return daemon.start(extra)
        finally:
            del os.environ["PATRON_DEBUG_BUILD_GATE"]

    def started(self):
        with open(self.path, "rb") as f:
            f.read()

    def release(self):
        with open(self.path, "wb"):
            pass

    def held_refit(self, daemon, models):
        """Send model.refit for models from a thread of its own and return once its build
        waits at the gate; the returned function releases nothing, joins the thread and gives
        model.refit's answer (release() the build first)."""
        done = {}

        def refit():
            cl = Client(daemon.admin)
            done["r"] = cl.call("model.refit", {"models": models})
            cl.close()
        t = threading.Thread(target=refit)
        t.start()
        self.started()

        def answer():
            t.join()
            return done.get("r")
        return answer


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now (for a listener the test starts)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(cond, timeout=10, what="condition"):
    """Poll cond() until it is true (returns its value) or fail with `what` after timeout
    seconds: the tests wait for an event, never for a fixed time."""
    deadline = time.monotonic() + timeout * SLOWDOWN
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for: %s" % (timeout, what))
        time.sleep(0.005)


class RpcError(Exception):
    def __init__(self, err):
        super().__init__("%s: %s (%s)" % (err.get("code"), err.get("message"), err.get("field")))
        self.code = err.get("code")
        self.field = err.get("field")
        self.err = err


class Client:
    def __init__(self, path, timeout=10):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout * SLOWDOWN)
        self.s.connect(path)
        self.u = msgpack.Unpacker(raw=False, max_buffer_size=64 << 20)
        self.msgid = 0
        self.pending = {}

    def close(self):
        self.s.close()

    def send_raw(self, data):
        self.s.sendall(data)

    def request_bytes(self, method, params=None, msgid=None):
        if msgid is None:
            self.msgid += 1
            msgid = self.msgid
        return msgid, msgpack.packb([0, msgid, method, [] if params is None else [params]])

    def read_message(self):
        while True:
            for obj in self.u:
                return obj
            data = self.s.recv(1 << 16)
            if not data:
                raise EOFError("connection closed by patrond")
            self.u.feed(data)

    def read_reply(self, msgid):
        while msgid not in self.pending:
            m = self.read_message()
            assert m[0] == 1, m
            self.pending[m[1]] = m
        return self.pending.pop(msgid)

    def call_raw(self, method, params=None):
        msgid, data = self.request_bytes(method, params)
        self.s.sendall(data)
        return self.read_reply(msgid)

    def call(self, method, params=None):
        r = self.call_raw(method, params)
        if r[2] is not None:
            raise RpcError(r[2])
        return r[3]

    def closed_by_peer(self, wait=3.0):
        """True if the daemon closes the connection within wait seconds."""
        self.s.settimeout(wait)
        try:
            while True:
                data = self.s.recv(1 << 16)
                if not data:
                    return True
                self.u.feed(data)
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True


def order(oid, cust="c1", ts=1700000000, cur="EUR", lines=None, **kw):
    o = {"order_id": oid, "customer_id": cust, "ts": ts, "currency": cur,
         "lines": lines or [{"product_id": "p1", "quantity": 1, "unit_price": 1000}]}
    o.update(kw)
    return o

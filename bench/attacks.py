#!/usr/bin/python3
"""attacks.py -- patrond under 200 hostile local connections (issue 12): for each attack, the
daemon's peak RSS (VmRSS sampled every 20 ms from /proc, and VmHWM) and a good client's
customer.get p99 against its quiet p99, measured the same way in the same run.

Attacks (each from ATTACKERS processes holding CONNS connections between them):
  noread    every connection pipelines `stats` (answers ~100x the request) and never reads;
            reconnects when closed
  hoard     every connection sends one ping, then idles (max_connections = CONNS, so the
            shop socket is full; a newcomer's connect+ping time is reported too)
  flood     connections opened and dropped as fast as possible, never sending a byte, up to
            CONNS held at once
  slowloris every connection holds a partial frame and adds a byte every 100 ms; reconnects
            when closed (read_timeout_ms closes it)
patrond runs with its defaults except store.sync=false (reads only) and, for hoard,
limits.max_connections. ROUNDS rounds (attack order rotated), medians reported.

usage: /usr/bin/python3 bench/attacks.py [PATH/TO/patrond]
       env: CONNS=200 ATTACKERS=2 DUR=4 ROUNDS=3 ATTACKS="noread hoard flood slowloris"
Needs python3-msgpack (Debian). Everything runs on Unix sockets in a temp dir; the daemon and
the attackers are stopped by PID; every wait is bounded."""
import multiprocessing
import os
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CONNS = int(os.environ.get("CONNS", 200))
ATTACKERS = int(os.environ.get("ATTACKERS", 2))
DUR = float(os.environ.get("DUR", 4))
ROUNDS = int(os.environ.get("ROUNDS", 3))
ATTACKS = os.environ.get("ATTACKS", "noread hoard flood slowloris").split()


def vm(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


class Daemon:
    def __init__(self, binary, extra):
        self.tmp = tempfile.mkdtemp(prefix="patron-attacks-")
        self.sock = os.path.join(self.tmp, "p.sock")
        self.log = open(os.path.join(self.tmp, "patrond.log"), "wb")
        args = [binary, "--socket", self.sock, "--admin-socket", "", "--data-dir",
                os.path.join(self.tmp, "data"), "--no-config", "--set", "store.sync=false"] + extra
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        deadline = time.time() + 10
        while True:
            try:
                Good(self.sock).call("ping")
                return
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("patrond did not start")
                time.sleep(0.02)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        if rc != 0:
            with open(self.log.name, "rb") as f:
                sys.stderr.write("patrond exited with %s; its log (kept in %s):\n%s\n"
                                 % (rc, self.tmp, f.read()[-3000:].decode(errors="replace")))
            return
        shutil.rmtree(self.tmp, ignore_errors=True)


class Good:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(path)
        self.u = msgpack.Unpacker(raw=False)
        self.msgid = 0

    def call(self, method, params=None):
        self.msgid += 1
        self.s.sendall(msgpack.packb([0, self.msgid, method, [params] if params else []]))
        while True:
            for m in self.u:
                if m[1] == self.msgid:
                    if m[2]:
                        raise RuntimeError(m[2])
                    return m[3]
            data = self.s.recv(1 << 16)
            if not data:
                raise EOFError
            self.u.feed(data)


def reconnect(path, deadline):
    while True:
        try:
            return Good(path)
        except OSError:  # EAGAIN: the accept queue is full
            if time.perf_counter() > deadline:
                raise
            time.sleep(0.001)


def p99_for(c, path, seconds):
    """customer.get on the connected client c, one at a time, for `seconds`. If the daemon
    closes it, the call is retried on a new connection and its latency includes the
    reconnect. Returns (p99 ms, calls, reconnects, client)."""
    lat = []
    reconnects = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        while True:
            try:
                c.call("customer.get", {"customer_id": "good"})
                break
            except (OSError, EOFError):
                reconnects += 1
                c = reconnect(path, time.perf_counter() + 10)
        lat.append((time.perf_counter() - t) * 1e3)
    lat.sort()
    return lat[max(0, int(len(lat) * 0.99) - 1)], len(lat), reconnects, c


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1)
    s.connect(path)
    s.setblocking(False)
    return s


def attacker(kind, path, n, stop):
    """One attacking process with n connections until stop is set."""
    socks = []
    stats = msgpack.packb([0, 1, "stats", []]) * 512
    frame = msgpack.packb([0, 1, "customer.get", [{"customer_id": "good"}]])
    pos = {}

    def fresh():
        try:
            s = connect(path)
        except OSError:
            return None
        if kind == "hoard":
            s.send(msgpack.packb([0, 1, "ping", []]))
        elif kind == "slowloris":
            s.send(frame[:4])
            pos[s] = 4
        return s

    while not stop.is_set():
        if kind == "flood":
            s = fresh()
            if s:
                socks.append(s)
            if len(socks) >= n:
                for s in socks[: n // 2]:
                    s.close()
                del socks[: n // 2]
            continue
        while len(socks) < n and not stop.is_set():
            s = fresh()
            if s:
                socks.append(s)
            else:
                time.sleep(0.01)
        alive = []
        for s in socks:
            try:
                if kind == "noread":
                    try:
                        s.send(stats)
                    except BlockingIOError:
                        pass
                elif kind == "slowloris":
                    i = pos[s]
                    s.send(frame[i:i + 1] if i < len(frame) - 1 else b"")
                    pos[s] = i + 1
                elif kind == "hoard":
                    r, _, _ = select.select([s], [], [], 0)
                    if r and s.recv(1 << 16) == b"":
                        raise ConnectionResetError
                alive.append(s)
            except OSError:
                s.close()
        socks = alive
        time.sleep(0.1 if kind in ("slowloris", "hoard") else 0.005)
    for s in socks:
        s.close()


def run_attack(binary, kind):
    extra = ["--set", "limits.max_connections=%d" % CONNS] if kind == "hoard" else []
    d = Daemon(binary, extra)
    try:
        Good(d.sock).call("order.record", {"order_id": "o1", "customer_id": "good", "ts": 1700000000,
                                           "currency": "EUR", "lines": [
                                               {"product_id": "p1", "quantity": 1, "unit_price": 1000}]})
        good = Good(d.sock)  # connected before the attack, like a pooled shop client
        quiet, _, _, good = p99_for(good, d.sock, DUR)
        rss0 = vm(d.proc.pid, "VmRSS")
        stop = multiprocessing.Event()
        procs = [multiprocessing.Process(target=attacker, args=(kind, d.sock, CONNS // ATTACKERS, stop))
                 for _ in range(ATTACKERS)]
        for p in procs:
            p.start()
        peak = [rss0]
        sampling = threading.Event()

        def sample():
            while not sampling.is_set():
                peak[0] = max(peak[0], vm(d.proc.pid, "VmRSS"))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        time.sleep(min(1.0, DUR / 4))  # the attack builds up
        loud, n, reconnects, good = p99_for(good, d.sock, DUR)
        t = time.perf_counter()  # a newcomer under attack: connect (retrying EAGAIN) + ping
        reconnect(d.sock, t + 10).call("ping")
        newcomer = (time.perf_counter() - t) * 1e3
        stop.set()
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
        sampling.set()
        sampler.join()
        hwm = vm(d.proc.pid, "VmHWM")
        return {"quiet_p99": quiet, "loud_p99": loud, "calls": n, "rss0": rss0, "rss_peak": peak[0],
                "hwm": hwm, "newcomer_ms": newcomer, "reconnects": reconnects}
    finally:
        d.stop()


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "daemon", "patrond")
    print("# bench/attacks.py %s  (CONNS=%d ATTACKERS=%d DUR=%g ROUNDS=%d, nproc %d)"
          % (binary, CONNS, ATTACKERS, DUR, ROUNDS, os.cpu_count()))
    results = {k: [] for k in ATTACKS}
    for r in range(ROUNDS):
        order = ATTACKS[r % len(ATTACKS):] + ATTACKS[:r % len(ATTACKS)]
        for kind in order:
            res = run_attack(binary, kind)
            results[kind].append(res)
            print("round %d %-9s quiet p99 %6.2f ms  attacked p99 %7.2f ms (%d calls, %d reconnects)  "
                  "RSS %5.1f -> peak %6.1f MiB (HWM %6.1f)  newcomer connect+ping %.1f ms" % (
                      r + 1, kind, res["quiet_p99"], res["loud_p99"], res["calls"], res["reconnects"],
                      res["rss0"] / 2**20, res["rss_peak"] / 2**20, res["hwm"] / 2**20,
                      res["newcomer_ms"]), flush=True)
    print("\n| attack (%d connections) | quiet p99 ms | attacked p99 ms | ratio | RSS before MiB | "
          "peak RSS MiB | newcomer connect+ping ms |" % CONNS)
    print("|---|---|---|---|---|---|---|")
    for kind in ATTACKS:
        rs = results[kind]
        med = lambda k: statistics.median(x[k] for x in rs)
        ratio = statistics.median(x["loud_p99"] / x["quiet_p99"] for x in rs)
        print("| %s | %.2f | %.2f | %.1fx | %.1f | %.1f | %.1f |" % (
            kind, med("quiet_p99"), med("loud_p99"), ratio, med("rss0") / 2**20, med("rss_peak") / 2**20,
            med("newcomer_ms")))


if __name__ == "__main__":
    main()

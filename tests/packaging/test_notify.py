#!/usr/bin/python3
"""tests/packaging/test_notify.py PATROND

Runs patrond under a fake systemd: a datagram socket as $NOTIFY_SOCKET (path and abstract
'@' forms), with SO_PASSCRED so each message carries the sender's pid (NotifyAccess=main needs
the main process to send). Checks: READY=1 arrives, and only once the shop and admin sockets
accept connections; WATCHDOG=1 arrives repeatedly when $WATCHDOG_USEC is set; SIGHUP gives
RELOADING=1 then READY=1; SIGTERM gives STOPPING=1 and exit 0; with $JOURNAL_STREAM set,
stderr lines carry <N> priority prefixes. Temp dirs only; no /etc or /run."""
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

patrond = sys.argv[1]
failures = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg)
    if not cond:
        failures.append(msg)


class FakeSystemd:
    def __init__(self, addr):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(addr)
        self.env = addr if isinstance(addr, str) else "@" + addr[1:].decode()

    def recv(self, timeout):
        """One notification: (pid, {key: value}) or None on timeout."""
        self.sock.settimeout(timeout)
        try:
            data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            return None
        pid = None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", payload[:12])[0]
        fields = dict(l.split("=", 1) for l in data.decode().splitlines() if "=" in l)
        return pid, fields

    def wait_for(self, key, value, timeout, seen=None):
        """Messages until one has key=value; returns (pid, fields) or None. Others go to seen."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = self.recv(max(0.01, end - time.monotonic()))
            if m is None:
                return None
            if m[1].get(key) == value:
                return m
            if seen is not None:
                seen.append(m)
        return None


def connectable(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def start(tmp, notify_env, extra_env=None):
    empty = os.path.join(tmp, "empty.conf")
    open(empty, "w").close()
    env = {k: v for k, v in os.environ.items()
           if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM")}
    env["NOTIFY_SOCKET"] = notify_env
    env.update(extra_env or {})
    return subprocess.Popen(
        [patrond, "-c", empty, "--socket", os.path.join(tmp, "shop.sock"),
         "--data-dir", os.path.join(tmp, "data"), "--set", "store.sync=false", "--foreground"],
        env=env, stderr=subprocess.PIPE, text=True)


def full_cycle(tmp):
    fake = FakeSystemd(os.path.join(tmp, "notify"))
    shop, admin = os.path.join(tmp, "shop.sock"), os.path.join(tmp, "admin.sock")
    p = start(tmp, fake.env, {"WATCHDOG_USEC": "200000", "JOURNAL_STREAM": "8:12345"})
    try:
        early = []
        m = fake.wait_for("READY", "1", 10, early)
        check(m is not None, "READY=1 arrives")
        if m is None:
            return
        # Nothing may be listening-ready-looking before READY; once READY is in, both accept.
        check(connectable(shop) and connectable(admin),
              "shop and admin sockets accept connections when READY=1 arrives")
        check(m[0] == p.pid, f"READY=1 sent by the main pid (sender {m[0]}, main {p.pid})")
        check(all(f.get("READY") != "1" for _, f in early), "READY=1 sent only once at start")
        check("STATUS" in m[1], "STATUS= accompanies READY=1")

        dogs = 0
        end = time.monotonic() + 0.7
        while time.monotonic() < end:
            w = fake.recv(0.25)
            if w and w[1].get("WATCHDOG") == "1":
                dogs += 1
        check(3 <= dogs <= 12, f"WATCHDOG=1 every WATCHDOG_USEC/2 (got {dogs} in 0.7 s at 0.2 s)")

        p.send_signal(signal.SIGHUP)
        seen = []
        r = fake.wait_for("RELOADING", "1", 5, seen)
        check(r is not None and r[0] == p.pid, "SIGHUP: RELOADING=1 from the main pid")
        r2 = fake.wait_for("READY", "1", 5, seen)
        check(r2 is not None, "SIGHUP: READY=1 after RELOADING=1")
        check(p.poll() is None, "still running after SIGHUP")

        p.send_signal(signal.SIGTERM)
        s = fake.wait_for("STOPPING", "1", 5)
        check(s is not None and s[0] == p.pid, "SIGTERM: STOPPING=1 from the main pid")
        rc = p.wait(15)
        check(rc == 0, f"SIGTERM: exit status 0 (got {rc})")
        err = p.stderr.read()
        lines = [l for l in err.splitlines() if l]
        check(lines and all(re.match(r"<[0-7]>", l) for l in lines),
              f"JOURNAL_STREAM set: every stderr line has a <N> prefix ({lines[:2]})")
        check(not os.path.exists(shop) and not os.path.exists(admin),
              "sockets removed on clean exit")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        fake.sock.close()


def abstract_ready(tmp):
    name = b"\0patron-test-notify-%d" % os.getpid()
    fake = FakeSystemd(name)
    p = start(tmp, fake.env)
    try:
        m = fake.wait_for("READY", "1", 10)
        check(m is not None and connectable(os.path.join(tmp, "shop.sock")),
              "abstract '@' NOTIFY_SOCKET: READY=1 arrives, socket connectable")
        p.send_signal(signal.SIGTERM)
        check(fake.wait_for("STOPPING", "1", 5) is not None, "abstract NOTIFY_SOCKET: STOPPING=1")
        check(p.wait(15) == 0, "abstract NOTIFY_SOCKET: exit 0")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        fake.sock.close()


with tempfile.TemporaryDirectory() as tmp:
    full_cycle(tmp)
with tempfile.TemporaryDirectory() as tmp:
    abstract_ready(tmp)

if failures:
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
print("all sd_notify checks passed")

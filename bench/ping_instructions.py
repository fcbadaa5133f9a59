#!/usr/bin/python3
"""ping_instructions.py -- server instructions per ping of a patrond binary, under callgrind:
(Ir(N2) - Ir(N1)) / (N2 - N1), which cancels start-up and shut-down. Pings are sent pipelined
DEPTH deep on one connection (tests/integration/patrontest.py's client). Used to compare two
builds (docs/BENCHMARKS.md section 13); needs valgrind and python3-msgpack.
usage: bench/ping_instructions.py PATROND [N1=2000] [N2=12000] [DEPTH=16]"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from patrontest import Client  # noqa: E402


def total_ir(binary, n, depth):
    tmp = tempfile.mkdtemp(prefix="patron-ir-")
    out, sock = os.path.join(tmp, "cg.out"), os.path.join(tmp, "p.sock")
    p = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, binary,
                          "--no-config", "-s", sock, "-a", os.path.join(tmp, "a.sock"),
                          "-d", os.path.join(tmp, "data"), "--set", "store.sync=false"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                c = Client(sock, timeout=60)
                c.call("ping")
                break
            except OSError:
                if time.monotonic() > deadline or p.poll() is not None:
                    raise
                time.sleep(0.1)
        for _ in range(n // depth):
            ids, buf = [], b""
            for _ in range(depth):
                mid, data = c.request_bytes("ping")
                ids.append(mid)
                buf += data
            c.send_raw(buf)
            for mid in ids:
                c.read_reply(mid)
        c.close()
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=120)
        with open(out) as f:
            return int(re.search(r"^summary: (\d+)", f.read(), re.M).group(1))
    finally:
        if p.poll() is None:
            p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = sys.argv[1]
    n1, n2, depth = [int(a) for a in sys.argv[2:5]] + [2000, 12000, 16][len(sys.argv[2:5]):]
    a, b = total_ir(binary, n1, depth), total_ir(binary, n2, depth)
    print("binary=%s depth=%d ir_per_ping=%.0f" % (binary, depth, (b - a) / (n2 - n1)))


if __name__ == "__main__":
    main()

"""pg_fleet.py -- figures for docs/SCALEOUT.md section 9: durable order.record through three
patrond nodes into one PostgreSQL 15 (a throw-away cluster started here, Unix socket), and the
change feed's lag under that load. Not a test: it prints its figures and the command.
- throughput: C connections a node, each pipelining W order.record requests (unique ids),
  for S seconds: acknowledged writes/s over the fleet, latency p50/p99 of an acknowledgement;
- feed lag under that load: a probe records an order on node i and polls order.get on node
  i+1 until it is there; p50/p99 of (seen - acknowledged).
The PostgreSQL cluster runs with its defaults (fsync on, synchronous_commit on) unless
--fsync-off; patrond with store.sync = true.
usage: python3 bench/pg_fleet.py PATH/TO/patrond [--seconds S] [--conns C] [--window W]
       [--fsync-off]"""
import argparse
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import pgtest  # noqa: E402
from patrontest import Client, Daemon, RpcError, order  # noqa: E402


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))] if xs else float("nan")


def writer(sock, prefix, window, stop, lat, count):
    cl = Client(sock)
    i, inflight = 0, {}
    while not stop.is_set() or inflight:
        while not stop.is_set() and len(inflight) < window:
            msgid, data = cl.request_bytes("order.record", order("%s-%d" % (prefix, i),
                                                                 "c%d" % (i % 50)))
            cl.send_raw(data)
            inflight[msgid] = time.monotonic()
            i += 1
        if not inflight:
            break
        m = cl.read_message()
        t0 = inflight.pop(m[1])
        if m[2] is None:
            lat.append(time.monotonic() - t0)
            count[0] += 1
    cl.close()


def probe(nodes, stop, lags):
    k = 0
    while not stop.is_set():
        a, b = Client(nodes[k % 3].sock), Client(nodes[(k + 1) % 3].sock)
        oid = "probe-%d" % k
        a.call("order.record", order(oid, "probe"))
        acked = time.monotonic()
        while True:
            try:
                b.call("order.get", {"order_id": oid})
                break
            except RpcError:
                pass
        lags.append(time.monotonic() - acked)
        a.close()
        b.close()
        k += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("patrond")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--conns", type=int, default=2)
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--fsync-off", action="store_true")
    o = ap.parse_args()
    pg = pgtest.Postgres()
    if o.fsync_off:
        pg.start()
    else:
        start_durable(pg)
    nodes = []
    try:
        ci = pg.create_db("bench")
        nodes = [Daemon(o.patrond, extra=["--set", "store.backend=postgresql", "--set",
                                          "store.postgresql=" + ci, "--set",
                                          "store.node_name=n%d" % i]).start() for i in range(3)]
        stop, lat, count, lags = threading.Event(), [], [0], []
        ts = [threading.Thread(target=writer, args=(nodes[n].sock, "w%d-%d" % (n, c), o.window,
                                                    stop, lat, count))
              for n in range(3) for c in range(o.conns)]
        ts.append(threading.Thread(target=probe, args=(nodes, stop, lags)))
        t0 = time.monotonic()
        for t in ts:
            t.start()
        time.sleep(o.seconds)
        stop.set()
        for t in ts:
            t.join()
        el = time.monotonic() - t0
        print("command: python3 bench/pg_fleet.py %s --seconds %g --conns %d --window %d%s"
              % (o.patrond, o.seconds, o.conns, o.window, " --fsync-off" if o.fsync_off else ""))
        print("PostgreSQL 15 fsync=%s; 3 nodes x %d connections x window %d; %.1f s"
              % ("off" if o.fsync_off else "on", o.conns, o.window, el))
        print("durable order.record: %d acknowledged, %.0f/s; ack latency p50 %.2f ms, p99 %.2f ms"
              % (count[0], count[0] / el, 1000 * pct(lat, 50), 1000 * pct(lat, 99)))
        print("feed lag (ack on node i -> order.get on node i+1), %d probes: p50 %.2f ms, "
              "p99 %.2f ms" % (len(lags), 1000 * pct(lags, 50), 1000 * pct(lags, 99)))
    finally:
        for d in nodes:
            d.cleanup()
        pg.cleanup()


def start_durable(pg):
    """The cluster with PostgreSQL's durable defaults (fsync on)."""
    opts = "-k %s -c listen_addresses='' -c max_connections=60" % pg.sock
    pg._run([os.path.join(pgtest.BIN, "pg_ctl"), "-D", pg.data, "-o", opts, "-l", pg.log, "-w",
             "start"])


if __name__ == "__main__":
    main()

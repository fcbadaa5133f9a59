#!/usr/bin/python3
"""test_kill9.py -- SIGKILL under load: durability of acknowledged writes (issue 12).

Each cycle starts patrond (store.sync on, the shipped default) on the same data directory,
runs WRITERS threads that pipeline order.record with unique order ids (16 in flight each,
customers unique to the cycle), kills the daemon with SIGKILL at a random moment once
writes are being acknowledged, restarts it and checks:
  - every acknowledged order is there, exactly as sent (nothing half-written);
  - an order that is there was sent (no phantom);
  - every customer's order_count and gross equal the orders of theirs that are there
    (an order present implies its customer index entries, and nothing more).
At the end every order acknowledged in any cycle is read once more.

usage: test_kill9.py PATROND [--cycles N] [--seed S]   (default 20 cycles, under ~60 s)
The long run of docs/BENCHMARKS.md is the same script with --cycles 200."""
import argparse
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import patrontest as pt  # noqa: E402
from loadgen import Writer, check_acked, get_many, same_order, wait_for  # noqa: E402

WRITERS = 2


def check_cycle(c, writers):
    sent, acked = {}, set()
    for w in writers:
        sent.update(w.sent)
        acked.update(w.acked)
    got = get_many(c, "order.get", "order_id", sent)
    present = {oid for oid, g in got.items() if g is not None}
    lost = acked - present
    assert not lost, "acknowledged orders lost after SIGKILL: %s" % sorted(lost)[:10]
    for oid in present:
        assert same_order(sent[oid], got[oid]), "order %s half-written: %r" % (oid, got[oid])
    per_cust = {}
    for oid in present:
        o = sent[oid]
        n, gross = per_cust.get(o["customer_id"], (0, 0))
        per_cust[o["customer_id"]] = (n + 1, gross + sum(l["quantity"] * l["unit_price"]
                                                         for l in o["lines"]))
    custs = {o["customer_id"] for o in sent.values()}
    profiles = get_many(c, "customer.get", "customer_id", custs)
    for cust in custs:
        n, gross = per_cust.get(cust, (0, 0))
        p = profiles[cust]
        if n == 0:
            assert p is None or p["order_count"] == 0, "customer %s has phantom orders: %r" % (cust, p)
            continue
        assert p is not None, "customer %s missing though %d of their orders exist" % (cust, n)
        assert p["order_count"] == n, "customer %s: order_count %d, orders present %d" % (
            cust, p["order_count"], n)
        eur = [t for t in p["totals"] if t["currency"] == "EUR"]
        assert eur and eur[0]["gross"] == gross, "customer %s: totals %r, expected gross %d" % (
            cust, p["totals"], gross)
    return acked, len(present), len(sent)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("patrond")
    ap.add_argument("--cycles", type=int, default=20)
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    d = pt.Daemon(a.patrond)  # store.sync=true: acknowledged means fsync'ed
    t0 = time.time()
    all_acked = {}
    total_sent = total_present = 0
    try:
        for cycle in range(a.cycles):
            d.start()
            changed = threading.Condition()
            writers = [Writer(d.sock, "k%d-w%d" % (cycle, w), changed) for w in range(WRITERS)]
            for w in writers:
                w.start()
            wait_for(changed, lambda: any(w.acked for w in writers), 10, "a first acknowledged write")
            time.sleep(rng.uniform(0.0, 0.25))  # a random point of the load, not a sync wait
            d.proc.send_signal(signal.SIGKILL)
            d.proc.wait(timeout=10)
            d.proc = None
            d.logf.close()
            for w in writers:
                w.join(timeout=20)
                assert not w.is_alive(), "writer stuck after the kill"
                assert not w.errors, "write errors before the kill: %r" % w.errors[:3]
            d.start()
            c = pt.Client(d.sock, timeout=30)
            acked, present, sent = check_cycle(c, writers)
            c.close()
            d.stop()
            for w in writers:
                for oid in w.acked:
                    all_acked[oid] = w.sent[oid]
            total_sent += sent
            total_present += present
        d.start()
        c = pt.Client(d.sock, timeout=30)
        lost = check_acked(c, all_acked)
        assert not lost, "acknowledged orders lost or changed by later cycles: %s" % lost[:10]
        c.close()
        d.stop()
    except Exception:
        print("seed %d; daemon log:\n%s" % (seed, d.read_log()[-4000:]), file=sys.stderr)
        raise
    finally:
        d.cleanup()
    print("kill9: %d cycles, %d orders sent, %d acknowledged, %d present after restarts, "
          "0 lost, 0 half-written (seed %d, %.1f s)" % (a.cycles, total_sent, len(all_acked),
                                                        total_present, seed, time.time() - t0))


if __name__ == "__main__":
    main()

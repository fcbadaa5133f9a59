#!/usr/bin/python3
"""test_offers_kill9.py -- SIGKILL during concurrent offers.redeem (issue 9).

Each cycle starts patrond (store.sync on: acknowledged means fsync'ed) on the same data
directory, defines a fresh offer with a budget of BUDGET redemptions, decides a signed token
for CUSTOMERS customers, then REDEEMERS threads, each on its own connection, redeem the
tokens (one idempotency key per customer) while a reader thread keeps offers.decide busy.
Once a randomly drawn number of redemptions has been acknowledged (an event, not a timer),
patrond is killed with SIGKILL and restarted. Then:
  - every acknowledged redemption is counted: replaying its key answers replay = true with
    the first answer (offer, arm, discount, redemptions_left);
  - the counted redemptions are at least the acknowledged ones and at most those plus the
    requests in flight at the kill (sent, never answered), and never above the budget;
    money_spent = redemptions x the discount;
  - every key is then replayed or redeemed: exactly BUDGET succeed in all, the others are
    refused budget_exhausted, and a second replay of every success answers the same.
usage: test_offers_kill9.py PATROND [--cycles N] [--seed S]"""
import argparse
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import patrontest as pt  # noqa: E402

BUDGET, CUSTOMERS, REDEEMERS, DISCOUNT = 40, 120, 4, 250
CART = {"currency": "EUR", "lines": [{"product_id": "p1", "quantity": 1, "unit_price": 5000}]}


class Redeemer(threading.Thread):
    def __init__(self, sock, items, shared):
        super().__init__(daemon=True)
        self.sock, self.items, self.shared = sock, items, shared
        self.acked, self.inflight, self.errors = {}, set(), []

    def run(self):
        try:
            c = pt.Client(self.sock, timeout=30)
        except OSError as e:
            self.errors.append(repr(e))
            return
        try:
            for cust, tok in self.items:
                self.inflight.add(cust)
                try:
                    r = c.call("offers.redeem", {"token": tok, "customer_id": cust, "cart": CART,
                                                 "idempotency_key": "k-" + cust})
                    self.acked[cust] = ("ok", r)
                except pt.RpcError as e:
                    self.acked[cust] = ("refused", e.err["message"].split(":")[0])
                self.inflight.discard(cust)
                with self.shared["cv"]:
                    self.shared["acked"] += 1
                    self.shared["cv"].notify_all()
        except (OSError, EOFError):
            pass  # killed: what is in inflight was sent and never answered
        finally:
            c.close()


def decide_load(sock, stop):
    try:
        c = pt.Client(sock, timeout=30)
        i = 0
        while not stop.is_set():
            c.call("offers.decide", {"customer_id": "load-%d" % (i % 50), "cart": CART})
            i += 1
    except (OSError, EOFError):
        pass


def redeem(c, cust, tok):
    try:
        return ("ok", c.call("offers.redeem", {"token": tok, "customer_id": cust, "cart": CART,
                                               "idempotency_key": "k-" + cust}))
    except pt.RpcError as e:
        return ("refused", e.err["message"].split(":")[0])


def first_answer(r):
    return {k: r[k] for k in ("offer_id", "arm", "discount", "currency", "redemptions_left",
                              "money_left")}


def cycle(d, n, rng):
    d.start()
    a, c = pt.Client(d.admin), pt.Client(d.sock)
    oid = "k9-%d" % n
    a.call("offers.set", {"id": oid, "kind": "amount_off", "value": DISCOUNT, "currency": "EUR",
                          "budget": {"redemptions": BUDGET}, "stackable": True})
    if n:  # only this cycle's offer is decided
        a.call("offers.archive", {"offer_id": "k9-%d" % (n - 1)})
    a.call("offers.reload")
    tokens = {}
    for i in range(CUSTOMERS):
        cust = "c%d-%d" % (n, i)
        tokens[cust] = [o for o in c.call("offers.decide", {"customer_id": cust, "cart": CART})
                        ["offers"] if o["offer_id"] == oid][0]["token"]
    items = list(tokens.items())
    rng.shuffle(items)
    shared = {"cv": threading.Condition(), "acked": 0}
    rs = [Redeemer(d.sock, items[k::REDEEMERS], shared) for k in range(REDEEMERS)]
    stop = threading.Event()
    load = threading.Thread(target=decide_load, args=(d.sock, stop), daemon=True)
    load.start()
    kill_at = rng.randrange(1, BUDGET + 10)  # sometimes before, sometimes after the budget ends
    for r in rs:
        r.start()
    with shared["cv"]:
        ok = shared["cv"].wait_for(lambda: shared["acked"] >= kill_at, timeout=60 * pt.SLOWDOWN)
    assert ok, "no %d acknowledged redemptions" % kill_at
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(timeout=10)
    d.proc = None
    d.logf.close()
    stop.set()
    for r in rs:
        r.join(timeout=30)
        assert not r.is_alive(), "redeemer stuck after the kill"
        assert not r.errors, r.errors
    load.join(timeout=30)
    a.close(), c.close()
    acked = {k: v for r in rs for k, v in r.acked.items()}
    inflight = set().union(*(r.inflight for r in rs))
    acked_ok = {k: v[1] for k, v in acked.items() if v[0] == "ok"}
    assert all(v[1] == "budget_exhausted" for v in acked.values() if v[0] == "refused"), acked

    d.start()
    a, c = pt.Client(d.admin, timeout=30), pt.Client(d.sock, timeout=30)
    rep = a.call("experiments.report", {"offer_id": oid})
    assert len(acked_ok) <= rep["redemptions"] <= min(BUDGET, len(acked_ok) + len(inflight)), \
        (len(acked_ok), len(inflight), rep["redemptions"])
    assert rep["money_spent"] == rep["redemptions"] * DISCOUNT, rep
    for cust, first in acked_ok.items():  # acknowledged: counted, replayed as first answered
        kind, r = redeem(c, cust, tokens[cust])
        assert kind == "ok" and r["replay"], (cust, kind, r)
        assert first_answer(r) == first_answer(first), (cust, r, first)
    final = {}
    for cust, tok in items:
        final[cust] = redeem(c, cust, tok)
    wins = {k for k, v in final.items() if v[0] == "ok"}
    assert len(wins) == BUDGET, (len(wins), BUDGET)
    assert all(v[1] == "budget_exhausted" for v in final.values() if v[0] == "refused"), final
    assert set(acked_ok) <= wins
    for cust in wins:
        kind, r = redeem(c, cust, tokens[cust])
        assert kind == "ok" and r["replay"] and first_answer(r) == first_answer(final[cust][1])
    rep = a.call("experiments.report", {"offer_id": oid})
    assert (rep["redemptions"], rep["money_spent"]) == (BUDGET, BUDGET * DISCOUNT), rep
    a.close(), c.close()
    d.stop()
    return len(acked_ok), len(inflight), kill_at


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("patrond")
    ap.add_argument("--cycles", type=int, default=3)
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    d = pt.Daemon(a.patrond)  # store.sync = true
    t0 = time.time()
    out = []
    try:
        for n in range(a.cycles):
            out.append(cycle(d, n, rng))
    except Exception:
        print("seed %d; daemon log:\n%s" % (seed, d.read_log()[-4000:]), file=sys.stderr)
        raise
    finally:
        d.cleanup()
    print("offers kill9: %d cycles (acknowledged successes, in flight, kill after): %s; budget "
          "%d held, every acknowledged redemption counted and replayed (seed %d, %.1f s)"
          % (a.cycles, out, BUDGET, seed, time.time() - t0))


if __name__ == "__main__":
    main()

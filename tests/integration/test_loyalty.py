"""test_loyalty.py -- loyalty (issue 8) through the real patrond, driven by an independent
msgpack-RPC peer (Debian's python3-msgpack). Time moves with debug.clock (patrond
--test-clock), never by sleeping. Covered:
- the named edge cases over the wire: 499 -> 500 points upgrades at once (and customer.get's
  cached answer follows); spending points never moves a points tier down; a partial refund
  removes points pro rata and drops a lifetime tier;
- concurrent redemptions of one balance from several connections: exactly the affordable
  ones are accepted;
- replays after a client gave up waiting return the first answer (accepted and refused);
- SIGKILL during a redemption load: every acknowledged redemption is there after restart
  (its replay is not created again and answers the same), loyalty.check is clean and the
  balance is the initial one minus what was accepted;
- tier changes pushed as loyalty.tier_changed to subscribed connections, and points
  expiring within 7 days as loyalty.points_expiring (once per date);
- a clock jump over an expiry date expires the points (reads at once, loyalty.expire
  writes the entries); a program change re-evaluates every member in the background;
- admin-only methods, debug.clock without --test-clock, bad input named by field.
usage: python3 test_loyalty.py PATH/TO/patrond"""
import signal
import sys
import unittest

from patrontest import Client, Daemon, RpcError, order, wait_until

PATROND = None
DAY = 86400

PROGRAM = {
    "tiers": [{"name": "silver", "entry_threshold": 500, "earn_mult_bp": 10000},
              {"name": "gold", "entry_threshold": 1000, "earn_mult_bp": 10000,
               "discount_pct": 10, "free_shipping": True, "labels": ["vip"]}],
    "basis": "points", "window": "lifetime", "downgrade": "never",
    "earn": [{"currency": "EUR", "points": 1, "per_minor": 100}],   # 1 point per EUR
    "redeem": [{"currency": "EUR", "points": 100, "per_minor": 500}],  # 100 points = 5 EUR
    "pending_days": 0, "expiry": "entry", "expiry_months": 12,
}


def eur_order(oid, cust, now, euros, qty=1, **kw):
    return order(oid, cust, ts=now, lines=[{"product_id": "p1", "quantity": qty,
                                            "unit_price": euros * 100 // qty}], **kw)


class LoyaltyTest(unittest.TestCase):
    def setUp(self):
        self.d = Daemon(PATROND, extra=["--test-clock"]).start()
        self.c = Client(self.d.sock)
        self.a = Client(self.d.admin)
        self.a.call("loyalty.program.set", PROGRAM)

    def tearDown(self):
        for cl in (self.c, self.a):
            cl.close()
        self.d.cleanup()

    def now(self):
        return self.c.call("ping")["time"]

    def points(self, cust):
        return self.c.call("loyalty.points", {"customer_id": cust})

    def test_499_to_500_upgrades_at_once(self):
        now = self.now()
        self.c.call("order.record", eur_order("o1", "c1", now, 499))
        t = self.c.call("loyalty.tier", {"customer_id": "c1"})
        self.assertIsNone(t["tier"])
        self.assertEqual((t["qualifying"], t["next_tier"], t["missing"]), (499, "silver", 1))
        self.assertIsNone(self.c.call("customer.get", {"customer_id": "c1"})["tier"])  # cached
        self.c.call("order.record", eur_order("o2", "c1", now, 1))
        self.assertEqual(self.c.call("loyalty.tier", {"customer_id": "c1"})["tier"], "silver")
        cg = self.c.call("customer.get", {"customer_id": "c1"})
        self.assertEqual((cg["tier"], cg["points"]), ("silver", 500))

    def test_spending_never_moves_a_points_tier_down(self):
        now = self.now()
        self.c.call("order.record", eur_order("o1", "c2", now, 600))
        self.assertEqual(self.c.call("loyalty.tier", {"customer_id": "c2"})["tier"], "silver")
        r = self.c.call("loyalty.redeem", {"customer_id": "c2", "points": 500,
                                           "redemption_id": "r1", "currency": "EUR"})
        self.assertEqual((r["status"], r["value"], r["balance_after"]), ("accepted", 2500, 100))
        t = self.c.call("loyalty.tier", {"customer_id": "c2"})
        self.assertEqual((t["tier"], t["qualifying"]), ("silver", 600))
        self.assertEqual(self.c.call("customer.get", {"customer_id": "c2"})["points"], 100)

    def test_partial_refund_pro_rata_drops_lifetime_tier(self):
        now = self.now()
        self.c.call("order.record", eur_order("o1", "c3", now, 1000, qty=4))
        self.assertEqual(self.c.call("loyalty.tier", {"customer_id": "c3"})["tier"], "gold")
        self.c.call("order.refund", {"refund_id": "rf1", "order_id": "o1",
                                     "lines": [{"product_id": "p1", "quantity": 1}]})
        p = self.points("c3")
        self.assertEqual(p["balance"], 750)
        self.assertEqual([h["type"] for h in p["history"]][:1], ["reverse"])
        self.assertEqual(self.c.call("loyalty.tier", {"customer_id": "c3"})["tier"], "silver")
        self.assertEqual(self.c.call("customer.get", {"customer_id": "c3"})["tier"], "silver")
        self.assertTrue(self.a.call("loyalty.check")["ok"])

    def test_concurrent_redemptions_of_one_balance(self):
        now = self.now()
        self.c.call("order.record", eur_order("o1", "c4", now, 1000))
        conns = [Client(self.d.sock) for _ in range(8)]
        ids = []
        for i, cl in enumerate(conns):  # all sent before any answer is read
            msgid, data = cl.request_bytes("loyalty.redeem", {
                "customer_id": "c4", "points": 300, "redemption_id": "cr%d" % i,
                "currency": "EUR"})
            cl.send_raw(data)
            ids.append(msgid)
        answers = [cl.read_reply(m)[3] for cl, m in zip(conns, ids)]
        for cl in conns:
            cl.close()
        statuses = sorted(a["status"] for a in answers)
        self.assertEqual(statuses.count("accepted"), 3)  # 1000 // 300
        self.assertEqual(statuses.count("insufficient_points"), 5)
        self.assertEqual(self.points("c4")["balance"], 100)
        self.assertTrue(self.a.call("loyalty.check")["ok"])

    def test_replay_after_client_timeout_returns_first_answer(self):
        now = self.now()
        self.c.call("order.record", eur_order("o1", "c5", now, 300))
        req = {"customer_id": "c5", "points": 200, "redemption_id": "rp1", "currency": "EUR"}
        gone = Client(self.d.sock)
        _, data = gone.request_bytes("loyalty.redeem", req)
        gone.send_raw(data)
        gone.close()  # the client gave up before the answer
        # a second redemption now fails only if the first was applied exactly once
        wait_until(lambda: self.points("c5")["balance"] == 100, what="first redemption")
        first = self.c.call("loyalty.redeem", req)
        self.assertEqual((first["status"], first["created"], first["balance_after"]),
                         ("accepted", False, 100))
        refused = dict(req, redemption_id="rp2")
        a = self.c.call("loyalty.redeem", refused)
        self.assertEqual(a["status"], "insufficient_points")
        self.c.call("loyalty.award", {"customer_id": "c5", "points": 1000, "kind": "review",
                                      "key": "aw1"})
        b = self.c.call("loyalty.redeem", refused)  # a replay stays refused
        self.assertEqual((b["status"], b["created"]), ("insufficient_points", False))
        with self.assertRaises(RpcError) as cm:
            self.c.call("loyalty.redeem", dict(req, points=100))
        self.assertEqual(cm.exception.code, "conflict")
        c = self.c.call("loyalty.redeem.cancel", {"redemption_id": "rp1"})
        self.assertEqual((c["created"], c["points_returned"], c["customer_id"]), (True, 200, "c5"))
        c2 = self.c.call("loyalty.redeem.cancel", {"redemption_id": "rp1"})
        self.assertEqual((c2["created"], c2["points_returned"]), (False, 200))
        self.assertEqual(self.points("c5")["balance"], 1300)

    def test_clock_jump_over_expiry_date_expires_points(self):
        now = self.now()
        self.c.call("order.record", eur_order("o1", "c6", now, 250))
        self.assertEqual(self.points("c6")["balance"], 250)
        soon = self.c.call("loyalty.points", {"customer_id": "c6", "horizon_days": 400})
        self.assertEqual(sum(e["points"] for e in soon["expiring"]), 250)
        self.assertEqual(self.c.call("customer.get", {"customer_id": "c6"})["points"], 250)
        self.a.call("debug.clock", {"advance_s": 370 * DAY})
        self.assertEqual(self.points("c6")["balance"], 0)  # reads show it at once
        self.assertEqual(self.c.call("customer.get", {"customer_id": "c6"})["points"], 0)
        # the clock move ran the expiry pass in the background: it wrote the entry
        hist = wait_until(lambda: [h for h in self.points("c6")["history"]
                                   if h["type"] == "expire"], what="the expire entry")
        self.assertEqual([h["amount"] for h in hist], [-250])
        run = self.a.call("loyalty.expire", {})
        self.assertEqual((run["done"], run["entries"]), (True, 0))  # idempotent
        self.assertTrue(self.a.call("loyalty.check")["ok"])

    def test_program_change_reevaluates_members(self):
        now = self.now()
        for i in range(5):
            self.c.call("order.record", eur_order("o%d" % i, "m%d" % i, now, 600))
        self.assertEqual(self.c.call("loyalty.members", {"tier": "silver"})["customer_ids"],
                         ["m%d" % i for i in range(5)])
        before = self.d.log_count("loyalty re-evaluation done")
        sub = Client(self.d.sock)
        sub.call("customer.subscribe")
        prog = dict(PROGRAM, tiers=[{"name": "bronze", "entry_threshold": 100},
                                    {"name": "silver", "entry_threshold": 2000}])
        v = self.a.call("loyalty.program.set", prog)["version"]
        self.d.wait_for_log("loyalty re-evaluation done", before)
        notes = [sub.read_message() for _ in range(5)]  # one per member, from the pass
        sub.close()
        self.assertEqual(sorted((m[1], m[2][0]["customer_id"], m[2][0]["from"], m[2][0]["to"],
                                 m[2][0]["reason"]) for m in notes),
                         [("loyalty.tier_changed", "m%d" % i, "silver", "bronze",
                           "program_change") for i in range(5)])
        self.assertEqual(self.c.call("loyalty.members", {"tier": "bronze"})["customer_ids"],
                         ["m%d" % i for i in range(5)])
        self.assertEqual(self.c.call("loyalty.tier", {"customer_id": "m0"})["tier"], "bronze")
        got = self.a.call("loyalty.program.get")
        self.assertEqual((got["version"], [t["name"] for t in got["tiers"]]),
                         (v, ["bronze", "silver"]))

    def test_tier_changes_are_pushed_to_subscribers(self):
        sub = Client(self.d.sock)
        self.assertEqual(sub.call("customer.subscribe"), {"subscribed": True})
        now = self.now()
        self.c.call("order.record", eur_order("o1", "c8", now, 400))  # no move: no notice
        self.c.call("loyalty.award", {"customer_id": "c8", "points": 100, "kind": "birthday",
                                      "key": "b1"})
        self.c.call("order.record", eur_order("o2", "c8", now, 600, qty=2))
        self.c.call("order.refund", {"refund_id": "rf", "order_id": "o2",
                                     "lines": [{"product_id": "p1", "quantity": 2}]})
        got = [sub.read_message() for _ in range(3)]
        sub.close()
        self.assertEqual([m[0] for m in got], [2, 2, 2])
        self.assertEqual({m[1] for m in got}, {"loyalty.tier_changed"})
        moves = [(m[2][0]["from"], m[2][0]["to"], m[2][0]["reason"]) for m in got]
        self.assertEqual(moves, [(None, "silver", "award"), ("silver", "gold", "order"),
                                 ("gold", "silver", "refund")])
        self.assertTrue(all(m[2][0]["customer_id"] == "c8" for m in got))

    def test_points_expiring_soon_are_pushed_once(self):
        now = self.now()
        self.c.call("order.record", eur_order("o1", "c9", now, 120))
        self.c.call("order.record", eur_order("o2", "c10", now + 30 * DAY, 80))
        p = self.c.call("loyalty.points", {"customer_id": "c9", "horizon_days": 400})
        at = p["expiring"][0]["at"]
        sub = Client(self.d.sock)
        sub.call("customer.subscribe")
        lst = self.a.call("loyalty.expiring", {"from": at - 1, "to": at})
        self.assertEqual([(m["customer_id"], m["points"], m["at"]) for m in lst["members"]],
                         [("c9", 120, at)])
        # 3 days before c9's date: the daily scan (run at once after a clock move) announces it
        self.a.call("debug.clock", {"advance_s": at - 3 * DAY - now})
        m = sub.read_message()
        self.assertEqual((m[0], m[1]), (2, "loyalty.points_expiring"))
        self.assertEqual(m[2][0], {"customer_id": "c9", "points": 120, "at": at})
        # the next day's scan covers only new dates: c10 is not due yet, c9 is not repeated
        self.a.call("debug.clock", {"advance_s": DAY})
        self.a.call("debug.clock", {"advance_s": 30 * DAY})  # now c10's date is near
        m = sub.read_message()
        self.assertEqual((m[1], m[2][0]["customer_id"], m[2][0]["points"]),
                         ("loyalty.points_expiring", "c10", 80))
        sub.close()

    def test_preview_and_errors(self):
        now = self.now()
        self.c.call("order.record", eur_order("o1", "c7", now, 450))
        pv = self.c.call("loyalty.preview", {"customer_id": "c7", "currency": "EUR", "lines": [
            {"product_id": "p1", "quantity": 1, "unit_price": 6000}]})
        self.assertEqual((pv["points"], pv["upgrades"], pv["tier_after"]), (60, True, "silver"))
        self.assertEqual(self.points("c7")["balance"], 450)  # preview writes nothing
        for method in ("loyalty.program.set", "loyalty.adjust", "loyalty.check", "debug.clock"):
            with self.assertRaises(RpcError) as cm:
                self.c.call(method, {})
            self.assertEqual(cm.exception.code, "forbidden", method)
        with self.assertRaises(RpcError) as cm:
            self.a.call("loyalty.program.set", dict(PROGRAM, basis="karma"))
        self.assertEqual((cm.exception.code, cm.exception.field), ("invalid_params", "basis"))
        bad = dict(PROGRAM, tiers=[{"name": "x" * 40, "entry_threshold": 1}])
        with self.assertRaises(RpcError) as cm:
            self.a.call("loyalty.program.set", bad)
        self.assertEqual(cm.exception.field, "tiers[0].name")
        with self.assertRaises(RpcError) as cm:
            self.c.call("loyalty.redeem", {"customer_id": "c7", "points": 10,
                                           "redemption_id": "r", "currency": "USD"})
        self.assertEqual((cm.exception.code, cm.exception.field), ("invalid_params", "currency"))
        self.assertEqual(self.a.call("loyalty.program.get")["version"], 1)  # nothing changed


class NoTestClockTest(unittest.TestCase):
    def test_debug_clock_needs_the_flag(self):
        d = Daemon(PATROND).start()
        try:
            a = Client(d.admin)
            with self.assertRaises(RpcError) as cm:
                a.call("debug.clock", {"advance_s": 10})
            self.assertEqual(cm.exception.code, "forbidden")
            a.call("order.record", order("o1", "c1"))  # no program: no loyalty fields
            cg = a.call("customer.get", {"customer_id": "c1"})
            self.assertEqual((cg["tier"], cg["points"], cg["order_count"]), (None, None, 1))
            self.assertEqual(a.call("loyalty.points", {"customer_id": "c1"})["member"], False)
            # an order from before the program earns nothing, not even when replayed after it
            a.call("loyalty.program.set", PROGRAM)
            self.assertFalse(a.call("order.record", order("o1", "c1"))["created"])
            self.assertEqual(a.call("loyalty.points", {"customer_id": "c1"})["member"], False)
            a.close()
        finally:
            d.cleanup()


class CrashTest(unittest.TestCase):
    def test_sigkill_during_redemptions_keeps_every_acknowledged_one(self):
        d = Daemon(PATROND, extra=["--test-clock"]).start()
        try:
            a = Client(d.admin)
            a.call("loyalty.program.set", PROGRAM)
            c = Client(d.sock)
            now = c.call("ping")["time"]
            custs = ["k%d" % i for i in range(4)]
            for cu in custs:
                c.call("order.record", eur_order("ko-" + cu, cu, now, 1000))
            conns = [Client(d.sock) for _ in range(4)]
            sent = []  # (conn, msgid, redemption_id, customer)
            for k in range(60):
                cl = conns[k % 4]
                cu = custs[(k // 4) % 4]
                rid = "kr%d" % k
                msgid, data = cl.request_bytes("loyalty.redeem", {
                    "customer_id": cu, "points": 70, "redemption_id": rid, "currency": "EUR"})
                cl.send_raw(data)
                sent.append((cl, msgid, rid, cu))
            acked = {}
            for cl, msgid, rid, cu in sent[:30]:  # read half the answers, then kill
                acked[rid] = cl.read_reply(msgid)[3]
            d.proc.send_signal(signal.SIGKILL)
            d.proc.wait()
            d.proc = None
            d.logf.close()
            for cl in conns + [c, a]:
                cl.close()
            d.start()
            c = Client(d.sock)
            a = Client(d.admin)
            for rid, first in acked.items():
                cu = next(s[3] for s in sent if s[2] == rid)
                again = c.call("loyalty.redeem", {"customer_id": cu, "points": 70,
                                                  "redemption_id": rid, "currency": "EUR"})
                self.assertFalse(again["created"], rid)
                self.assertEqual((again["status"], again["balance_after"]),
                                 (first["status"], first["balance_after"]), rid)
            check = a.call("loyalty.check")
            self.assertTrue(check["ok"], check)
            for cu in custs:
                hist = c.call("loyalty.points", {"customer_id": cu, "limit": 200})
                redeemed = -sum(h["amount"] for h in hist["history"] if h["type"] == "redeem")
                self.assertEqual(hist["balance"], 1000 - redeemed)
                self.assertLessEqual(redeemed, 1000)
            c.close()
            a.close()
        finally:
            d.cleanup()


if __name__ == "__main__":
    PATROND = sys.argv.pop(1)
    unittest.main(verbosity=2)

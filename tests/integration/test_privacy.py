"""test_privacy.py -- privacy requests (issue 11) through the real patrond:
- customer.export returns the profile, every order (lines, refunded total), its refund
  records, feedback, the loyalty tier, points, whole ledger and tier history, and the offers
  rows (exposures with the experiment arm, conversion and revenue, shown/redeemed counters)
  of a customer as one document, and nothing of another customer's; admin only.
- customer.forget: the id becomes an irreversible pseudonym ("anon-" + 32 hex) that keeps the
  aggregates (totals, counts, orders, feedback, a merged guest's history, loyalty points and
  tier, the offers' sticky arm, exposure and caps: a redeemed cap still binds); email and name are
  gone; a second forget is not_found; the log names the pseudonym, never the personal data.
- After forget and a refit of every model, no byte of the email, the name or the original id
  remains in any file of the data directory (the LMDB data file included: the writer zeroes
  the free pages that held the old records), while before the forget the same grep finds them
  (so the grep can fail).
usage: python3 test_privacy.py PATH/TO/patrond"""
import os
import re
import sys
import time
import unittest

from patrontest import Client, Daemon, RpcError, order

PATROND = None
DAY = 86400
T0 = 1704067200  # 2024-01-01
ID = "victim-7781-qx"
EMAIL = "zed.quigley-9137@example.org"
NAME = "Zedekiah Quigleyfax"


def files_holding(root, needles):
    """{needle: [paths]} for every file under root whose bytes contain needle."""
    found = {n: [] for n in needles}
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            with open(p, "rb") as f:
                data = f.read()
            for needle in needles:
                if needle.encode() in data:
                    found[needle].append(p)
    return found


class Privacy(unittest.TestCase):
    def setUp(self):
        self.d = Daemon(PATROND).start()
        self.c = Client(self.d.sock)
        self.admin = Client(self.d.admin)
        c = self.c
        # a shop of 30 repeat buyers, so that both models have something to fit
        for i in range(30):
            for k in range(3):
                c.call("order.record", order("o%d-%d" % (i, k), "c%02d" % i, ts=T0 + (i + 20 * k) * DAY,
                                             lines=[{"product_id": "p%d" % ((i + k) % 7),
                                                     "quantity": 1, "unit_price": 1000 + i}]))
        c.call("customer.upsert", {"customer_id": ID, "email": EMAIL, "name": NAME,
                                   "created_at": T0})
        for k in range(3):
            c.call("order.record", order("v%d" % k, ID, ts=T0 + (5 + 15 * k) * DAY,
                                         lines=[{"product_id": "p%d" % k, "quantity": 2,
                                                 "unit_price": 2500}]))
        c.call("order.refund", {"refund_id": "vr1", "order_id": "v1", "amount": 700})
        c.call("feedback.record", {"feedback_id": "vf1", "customer_id": ID, "kind": "nps",
                                   "score": 9, "ts": T0 + 30 * DAY})
        # a loyalty member: summary, ledger entry, idempotency answer all name the id
        self.admin.call("loyalty.program.set", {
            "tiers": [{"name": "silver", "entry_threshold": 50, "earn_mult_bp": 10000}],
            "basis": "points", "window": "lifetime", "downgrade": "never",
            "earn": [{"currency": "EUR", "points": 1, "per_minor": 100}]})
        c.call("loyalty.award", {"customer_id": ID, "points": 120, "kind": "signup",
                                 "key": "signup-1"})
        # an offer decided (sticky arm, exposure, shown cap) and redeemed (redeemed cap)
        self.admin.call("offers.set", {"id": "vip5", "kind": "amount_off", "value": 500,
                                       "currency": "EUR", "caps": {"redeemed": 1, "shown": 50}})
        self.admin.call("offers.reload")
        cart = {"currency": "EUR", "lines": [{"product_id": "p1", "unit_price": 9000}]}
        decided = c.call("offers.decide", {"customer_id": ID, "cart": cart})["offers"][0]
        tok = decided["token"]
        # its impression id is SHA-256 of the id with the offer and the hour: a guess of the
        # id finds it, so forget deletes the impression's record (keyed by it)
        self.imp_id = decided["impression_id"]
        c.call("offers.redeem", {"token": tok, "customer_id": ID, "cart": cart,
                                 "idempotency_key": "vr-1"})
        # a guest merged into the victim: its tombstone names the victim's id
        c.call("order.record", order("g1", "guest-55", ts=T0 + 70 * DAY, cur="EUR"))
        self.admin.call("customer.merge", {"guest_id": "guest-55", "customer_id": ID})

    def tearDown(self):
        self.c.close()
        self.admin.close()
        self.d.cleanup()

    def assertRpcError(self, client, code, field, method, params):
        with self.assertRaises(RpcError) as cm:
            client.call(method, params)
        self.assertEqual(cm.exception.code, code, cm.exception.err)
        if field is not None:
            self.assertEqual(cm.exception.field, field, cm.exception.err)

    def test_export(self):
        self.assertRpcError(self.c, "forbidden", None, "customer.export", {"customer_id": ID})
        x = self.admin.call("customer.export", {"customer_id": ID})
        p = x["profile"]
        self.assertEqual((p["customer_id"], p["email"], p["name"]), (ID, EMAIL, NAME))
        self.assertEqual(p["order_count"], 4)
        self.assertEqual([o["order_id"] for o in x["orders"]], ["v0", "v1", "v2", "g1"])
        self.assertTrue(all(o["customer_id"] == ID for o in x["orders"]))
        self.assertEqual(x["orders"][1]["refunded"], 700)
        self.assertEqual(x["orders"][0]["lines"],
                         [{"product_id": "p0", "quantity": 2, "unit_price": 5000 // 2}])
        self.assertEqual(x["feedback"], [{"feedback_id": "vf1", "kind": "nps", "score": 9,
                                          "ts": T0 + 30 * DAY}])
        # refund records of its orders
        self.assertEqual([(f["refund_id"], f["order_id"], f["amount"], f["currency"], f["lines"])
                          for f in x["refunds"]], [("vr1", "v1", 700, "EUR", [])])
        # loyalty: tier, points, the whole ledger, the tier history
        loy = x["loyalty"]
        self.assertEqual((loy["tier"]["member"], loy["tier"]["tier"]), (True, "silver"))
        self.assertEqual(loy["points"]["total"], 120)
        self.assertEqual([(h["type"], h["amount"], h["key"]) for h in loy["points"]["history"]],
                         [("award", 120, "signup-1")])
        self.assertEqual([(h["from"], h["to"]) for h in loy["tier_history"]], [("", "silver")])
        self.assertNotIn("not_included", x)
        self.assertRpcError(self.admin, "not_found", "customer_id", "customer.export",
                            {"customer_id": "nobody"})
        self.assertRpcError(self.admin, "invalid_params", "customer_id", "customer.export", {})

    def test_export_offers_and_experiments(self):
        """Offers seen (with the experiment arm), redeemed, converted: every kind of offers
        row stored under the id is in the export."""
        c, a = self.c, self.admin
        cart = {"currency": "EUR", "lines": [{"product_id": "p1", "category": "kitchen",
                                              "quantity": 2, "unit_price": 2500}]}
        # setUp's vip5: decided (an exposure, a shown cap) and redeemed (a redeemed cap)
        x0 = a.call("customer.export", {"customer_id": ID})["offers"]
        self.assertEqual([e["offer_id"] for e in x0["exposures"]], ["vip5"], x0)
        self.assertEqual(sorted((k["offer_id"], k["kind"], k["count"]) for k in x0["counters"]),
                         [("vip5", "redeemed", 1), ("vip5", "shown", 1)])
        a.call("offers.set", {"id": "pv_offer", "kind": "percent_off", "value": 10,
                              "currency": "EUR", "experiment": {"holdout": 0.0},
                              "caps": {"shown": 10, "redeemed": 5, "period": "month"}})
        a.call("offers.reload")
        o = [x for x in c.call("offers.decide", {"customer_id": ID, "cart": cart})["offers"]
             if x["offer_id"] == "pv_offer"][0]
        # the shop's own impression log, keyed like the exposure decide recorded: one event
        c.call("offers.event", {"type": "impression", "idempotency_key": o["impression_id"],
                                "offer_id": "pv_offer", "customer_id": ID, "arm": o["arm"]})
        c.call("offers.redeem", {"token": o["token"], "customer_id": ID, "cart": cart,
                                 "idempotency_key": "pv-red"})
        now = int(time.time())  # after the impression, inside the attribution window
        c.call("order.record", order("pv-o", ID, ts=now, lines=[
            {"product_id": "p1", "quantity": 2, "unit_price": 2250}]))
        x = a.call("customer.export", {"customer_id": ID})["offers"]
        seen = [e for e in x["exposures"] if e["offer_id"] == "pv_offer"]
        self.assertEqual(len(seen), 1, x)
        self.assertEqual((seen[0]["arm"], seen[0]["global_holdout"], seen[0]["converted"],
                          seen[0]["revenue"]), (o["arm"], False, True, 4500))
        self.assertLessEqual(seen[0]["first_ts"], now)
        counts = sorted((k["offer_id"], k["kind"], k["count"]) for k in x["counters"]
                        if k["offer_id"] == "pv_offer")
        self.assertEqual(counts, [("pv_offer", "redeemed", 1), ("pv_offer", "shown", 1)])
        # another customer's rows are not in it
        other = a.call("customer.export", {"customer_id": "c01"})["offers"]
        self.assertEqual(other, {"exposures": [], "counters": []})

    def test_forget_an_id_only_offers_know(self):
        """An id never upserted (a guest the shop only asked offers about) still has rows:
        its sticky arm, shown cap, impression and click records. customer.forget erases
        them (there is no customer record to keep a pseudonym) and no file holds the id or
        its impression id after; an id nothing names stays not_found."""
        c, a = self.c, self.admin
        ghost = "ghost-guest-7731"
        cart = {"currency": "EUR", "lines": [{"product_id": "p1", "unit_price": 9000}]}
        o = c.call("offers.decide", {"customer_id": ghost, "cart": cart})["offers"][0]
        c.call("offers.event", {"type": "impression", "idempotency_key": o["impression_id"],
                                "offer_id": o["offer_id"], "customer_id": ghost,
                                "arm": o["arm"]})
        c.call("offers.event", {"type": "click", "idempotency_key": "ghost-click-1",
                                "offer_id": o["offer_id"], "customer_id": ghost,
                                "arm": o["arm"]})
        held = files_holding(self.d.data, [ghost, o["impression_id"]])
        self.assertTrue(held[ghost] and held[o["impression_id"]], held)  # the grep can fail
        r = a.call("customer.forget", {"customer_id": ghost})
        # the seen row, the shown cap, the impression's and the click's records
        self.assertEqual((r["pseudonym"], r["offers"], r["orders"]), ("", 4, 0))
        self.assertRpcError(a, "not_found", "customer_id", "customer.forget",
                            {"customer_id": ghost})
        a.call("model.refit", {"models": ["clv"]})
        held = files_holding(self.d.data, [ghost, o["impression_id"]])
        self.assertEqual(held, {ghost: [], o["impression_id"]: []})
        self.assertIn("customer.forget: personal data erased, no customer record (4 offers rows)",
                      self.d.read_log())
        self.assertNotIn(ghost, self.d.read_log())
        # the id is new to offers again: its next decision is a fresh one, not an error
        self.assertEqual(len(c.call("offers.decide", {"customer_id": ghost,
                                                      "cart": cart})["offers"]), 1)

    def test_forget_keeps_aggregates_and_leaves_no_byte(self):
        c, a = self.c, self.admin
        before = c.call("customer.get", {"customer_id": ID})
        kpi_before = a.call("kpi.report", {"from": T0, "to": T0 + 400 * DAY, "currency": "EUR"})
        a.call("model.refit", {"models": ["clv", "recs"]})
        held = files_holding(self.d.data, [EMAIL, NAME, ID, self.imp_id])
        self.assertTrue(held[EMAIL] and held[NAME] and held[ID] and held[self.imp_id],
                        held)  # the grep can fail

        self.assertRpcError(c, "forbidden", None, "customer.forget", {"customer_id": ID})
        self.assertRpcError(a, "not_found", "customer_id", "customer.forget",
                            {"customer_id": "nobody"})
        r = a.call("customer.forget", {"customer_id": ID})
        self.assertRegex(r["pseudonym"], r"^anon-[0-9a-f]{32}$")
        self.assertEqual((r["orders"], r["feedback"]), (4, 1))
        self.assertGreaterEqual(r["loyalty"], 3)  # summary, ledger entry, award answer
        # offer_seen row, shown cap, redeemed cap moved; the impression's record deleted
        self.assertEqual(r["offers"], 4)
        pid = r["pseudonym"]
        cart = {"currency": "EUR", "lines": [{"product_id": "p1", "unit_price": 9000}]}
        # the redeemed cap moved with the id: the pseudonym is still capped, a stranger is not
        self.assertEqual(c.call("offers.decide", {"customer_id": pid, "cart": cart})["offers"], [])
        self.assertEqual(len(c.call("offers.decide", {"customer_id": "stranger-1",
                                                      "cart": cart})["offers"]), 1)
        self.assertEqual(c.call("loyalty.points", {"customer_id": pid})["total"], 120)
        self.assertEqual(c.call("loyalty.tier", {"customer_id": pid})["tier"], "silver")
        self.assertRpcError(c, "not_found", "customer_id", "customer.get", {"customer_id": ID})
        self.assertRpcError(a, "not_found", "customer_id", "customer.forget", {"customer_id": ID})
        g = c.call("customer.get", {"customer_id": pid})
        self.assertEqual((g["email"], g["name"]), ("", ""))
        for k in ("order_count", "refund_count", "first_order_at", "last_order_at", "totals",
                  "last_products", "created_at", "known"):
            self.assertEqual(g[k], before[k], k)
        self.assertEqual(c.call("order.get", {"order_id": "v1"})["customer_id"], pid)
        self.assertEqual(c.call("order.get", {"order_id": "g1"})["customer_id"], pid)
        x = a.call("customer.export", {"customer_id": pid})
        self.assertEqual(len(x["orders"]), 4)
        self.assertEqual(len(x["feedback"]), 1)
        kpi_after = a.call("kpi.report", {"from": T0, "to": T0 + 400 * DAY, "currency": "EUR"})
        for k in ("revenue", "orders", "aov", "nps"):
            self.assertEqual(kpi_after[k], kpi_before[k], k)
        # the merged guest's tombstone named the id: gone, so the guest is unknown again
        self.assertRpcError(a, "not_found", "guest_id", "customer.merge",
                            {"guest_id": "guest-55", "customer_id": pid})
        # a second forget makes another, unrelated pseudonym
        r2 = a.call("customer.forget", {"customer_id": pid})
        self.assertNotEqual(r2["pseudonym"], pid)
        pid = r2["pseudonym"]
        self.assertEqual(c.call("customer.get", {"customer_id": pid})["order_count"], 4)

        refit = a.call("model.refit", {"models": ["clv", "recs"]})
        self.assertTrue(refit["models"])
        held = files_holding(self.d.data, [EMAIL, NAME, ID, self.imp_id])
        self.assertEqual(held, {EMAIL: [], NAME: [], ID: [], self.imp_id: []})
        log = self.d.read_log()
        self.assertIn("customer.forget: personal data erased, id replaced by " + pid, log)
        self.assertRegex(log, r"customer.forget: [0-9]+ free pages zeroed")
        for secret in (EMAIL, NAME, ID):
            self.assertNotIn(secret, log)
        # and after a restart (the data file is what reopens)
        self.d.stop()
        self.d.start()
        self.c.close()
        self.c = Client(self.d.sock)
        self.assertEqual(self.c.call("customer.get", {"customer_id": pid})["order_count"], 4)
        self.assertEqual(files_holding(self.d.data, [EMAIL, NAME, ID]), {EMAIL: [], NAME: [], ID: []})


if __name__ == "__main__":
    PATROND = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)

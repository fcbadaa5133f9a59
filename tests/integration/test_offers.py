"""test_offers.py -- the offers and experiments methods of the real patrond over the wire
(issue 9): offers.set/get/list/archive, experiments.assign checked against an independent
GrowthBook hash (FNV-1a 32, version 1, written here from the SDK's definition), offers.decide
giving a signed token to a customer in the treatment arm and nothing to one in the holdout,
offers.redeem accepted once, a replay returning the first answer, a forged token refused,
the budget never exceeded by concurrent redemptions from several connections, offers.event
idempotent, experiments.report showing the arms, and the catalogue following offers.archive.
usage: python3 test_offers.py PATH/TO/patrond"""
import sys
import threading
import time
import unittest

from patrontest import Client, Daemon, RpcError

PATROND = None


def fnv1a32(s):
    h = 0x811C9DC5
    for ch in s.encode("utf-16-le").decode("utf-16-le"):
        for unit in ([ord(ch)] if ord(ch) < 0x10000 else
                     [0xD800 + ((ord(ch) - 0x10000) >> 10), 0xDC00 + ((ord(ch) - 0x10000) & 0x3FF)]):
            h ^= unit
            h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def gb_hash_v1(seed, value):
    return (fnv1a32(value + seed) % 1000) / 1000


def treated(offer, customer, holdout):
    """Arm by docs/OFFERS.md section 2: variation 0 of [holdout, 1 - holdout] is the holdout."""
    return gb_hash_v1(offer + "/holdout", customer) >= holdout


CART = {"currency": "EUR", "items": [{"product": "mug", "category": "kitchen", "quantity": 2,
                                      "price": 2500}]}
OFFER = {"id": "ten_off", "kind": "percent_off", "value": 10, "currency": "EUR",
         "budget": {"redemptions": 5}, "experiment": {"holdout": 0.5}}


class OffersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(PATROND, sync=False).start()
        cls.c = Client(cls.d.sock)
        cls.a = Client(cls.d.admin)
        r = cls.a.call("offers.set", OFFER)
        assert r["id"] == "ten_off", r
        cls.treated = [c for c in ("c%d" % i for i in range(200)) if treated("ten_off", c, 0.5)]
        cls.holdout = [c for c in ("c%d" % i for i in range(200)) if not treated("ten_off", c, 0.5)]
        assert len(cls.treated) > 20 and len(cls.holdout) > 20

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def decide(self, customer, cart=CART):
        return self.c.call("offers.decide", {"customer": customer, "cart": cart})

    def test_admin_only_and_get_list(self):
        with self.assertRaises(RpcError) as cm:
            self.c.call("offers.set", OFFER)
        self.assertEqual(cm.exception.code, "forbidden")
        g = self.a.call("offers.get", {"id": "ten_off"})
        self.assertEqual(g["offer"]["value"], 10)
        self.assertFalse(g["archived"])
        ids = [o["id"] for o in self.a.call("offers.list", {})["offers"]]
        self.assertIn("ten_off", ids)
        with self.assertRaises(RpcError) as cm:
            self.a.call("offers.get", {"id": "nope"})
        self.assertEqual(cm.exception.code, "not_found")

    def test_bad_definition_names_the_path(self):
        with self.assertRaises(RpcError) as cm:
            self.a.call("offers.set", dict(OFFER, id="bad", rule={"age": {"$gtx": 3}}))
        self.assertEqual(cm.exception.code, "invalid_params")
        self.assertTrue(cm.exception.field.startswith("rule"), cm.exception.field)
        with self.assertRaises(RpcError):
            self.a.call("offers.get", {"id": "bad"})  # nothing stored

    def test_assign_matches_independent_hash(self):
        for i, cid in enumerate(["u1", "user-42", "zoë", "😀x", "c17"]):
            h = gb_hash_v1("exp", cid)
            r = self.c.call("experiments.assign", {"key": "exp", "id": cid, "weights": [0.5, 0.5]})
            self.assertAlmostEqual(r["hash"], h, places=12)
            self.assertTrue(r["in_experiment"])
            self.assertEqual(r["variation"], 0 if h < 0.5 else 1)
        r = self.c.call("experiments.assign", {"key": "exp", "id": "u1", "coverage": 0.0})
        self.assertFalse(r["in_experiment"])
        with self.assertRaises(RpcError) as cm:
            self.c.call("experiments.assign", {"key": "exp", "id": "u1", "coverage": 2})
        self.assertEqual(cm.exception.field, "coverage")

    def test_decide_treatment_and_holdout(self):
        t = self.decide(self.treated[0])["offers"]
        self.assertEqual(len(t), 1, t)
        self.assertEqual(t[0]["offer_id"], "ten_off")
        self.assertFalse(t[0]["held_out"])
        self.assertEqual(t[0]["discount"], 500)  # 10% of 2 x 2500
        self.assertTrue(t[0]["token"])
        h = self.decide(self.holdout[0])["offers"]
        self.assertTrue(all(o["held_out"] and not o["token"] for o in h), h)
        self.assertEqual(self.decide(self.treated[0], {"currency": "EUR"})["offers"], [])

    def test_redeem_once_replay_forged(self):
        cust = self.treated[1]
        tok = self.decide(cust)["offers"][0]["token"]
        req = {"token": tok, "customer": cust, "cart": CART, "idempotency_key": "r-" + cust}
        first = self.c.call("offers.redeem", req)
        self.assertFalse(first["replay"])
        self.assertEqual(first["discount"], 500)
        again = self.c.call("offers.redeem", req)
        self.assertTrue(again["replay"])
        self.assertEqual(again["redemptions_left"], first["redemptions_left"])
        forged = tok[:-3] + ("AAA" if tok[-3:] != "AAA" else "BBB")
        with self.assertRaises(RpcError) as cm:
            self.c.call("offers.redeem", dict(req, token=forged, idempotency_key="f-" + cust))
        self.assertEqual(cm.exception.code, "forbidden")
        self.assertIn("token_", cm.exception.err["message"])
        with self.assertRaises(RpcError) as cm:  # someone else's token
            self.c.call("offers.redeem", dict(req, customer="intruder", idempotency_key="i1"))
        self.assertEqual(cm.exception.code, "forbidden")

    def test_z_budget_under_concurrent_redeems(self):
        budget = 7
        # its own currency: the other offers (EUR) are not eligible on these carts
        self.a.call("offers.set", {"id": "scarce", "kind": "amount_off", "value": 300,
                                   "currency": "USD", "budget": {"redemptions": budget}})
        cart = dict(CART, currency="USD")
        custs = ["k%d" % i for i in range(40)]
        tokens = {}
        for cu in custs:
            for o in self.decide(cu, cart)["offers"]:
                if o["offer_id"] == "scarce" and o["token"]:
                    tokens[cu] = o["token"]
        self.assertGreater(len(tokens), budget * 2)
        results, lock = [], threading.Lock()

        def worker(items):
            cl = Client(self.d.sock)
            for cu, tok in items:
                try:
                    r = cl.call("offers.redeem", {"token": tok, "customer": cu, "cart": cart,
                                                  "idempotency_key": "s-" + cu})
                    out = ("ok", r["offer_id"])
                except RpcError as e:
                    out = ("refused", e.err["message"].split(":")[0])
                with lock:
                    results.append(out)
            cl.close()
        items = list(tokens.items())
        threads = [threading.Thread(target=worker, args=(items[i::4],)) for i in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        ok = [r for r in results if r[0] == "ok"]
        self.assertEqual(len(ok), budget)
        self.assertTrue(all(r[1] == "budget_exhausted" for r in results if r[0] == "refused"),
                        results)
        rep = self.a.call("experiments.report", {"offer_id": "scarce"})
        self.assertEqual(rep["redemptions"], budget)
        self.assertEqual(rep["money_spent"], budget * 300)

    def test_events_and_report(self):
        self.a.call("offers.set", {"id": "rep", "kind": "amount_off", "value": 100,
                                   "currency": "EUR", "experiment": {"holdout": 0.5}})
        n, exposed = 0, None
        for cu in self.treated[:10] + self.holdout[:10]:
            o = [x for x in self.decide(cu)["offers"] if x["offer_id"] == "rep"]
            if not o:
                continue
            ev = {"type": "impression", "idempotency_key": "imp-" + cu, "offer_id": "rep",
                  "customer": cu, "arm": o[0]["arm"]}
            self.assertFalse(self.c.call("offers.event", ev)["replay"])
            self.assertTrue(self.c.call("offers.event", ev)["replay"])
            n += 1
            if o[0]["arm"] == 1:
                exposed = cu
        buyer = exposed
        order = {"order_id": "rep-o-" + buyer, "customer_id": buyer, "currency": "EUR",
                 "ts": int(time.time()),  # after its impression, inside the 7-day window
                 "lines": [{"product_id": "mug", "quantity": 1, "unit_price": 4200}]}
        self.c.call("order.record", order)
        self.c.call("order.record", order)  # a replay credits nothing more
        self.a.call("offers.archive", {"id": "rep"})  # out of the other tests' decisions
        rep = self.a.call("experiments.report", {"offer_id": "rep"})
        self.assertEqual([a["name"] for a in rep["arms"]], ["holdout", "default"])
        self.assertEqual(sum(a["exposures"] for a in rep["arms"]), n)
        self.assertGreater(rep["arms"][0]["exposures"], 0)
        self.assertGreater(rep["arms"][1]["exposures"], 0)
        self.assertEqual(rep["arms"][1]["conversions"], 1)  # order.record attributed it
        self.assertEqual(rep["arms"][1]["revenue"], 4200)
        self.assertEqual(rep["arms"][0]["conversions"], 0)
        self.assertIn("vs_holdout", rep["arms"][1])
        with self.assertRaises(RpcError) as cm:
            self.c.call("offers.event", dict(ev, type="view", idempotency_key="x"))
        self.assertEqual(cm.exception.field, "type")

    def test_x_rule_on_profile_attributes(self):
        """order_count comes from the stored profile: a rule on it follows order.record."""
        self.a.call("offers.set", {"id": "regulars", "kind": "amount_off", "value": 70,
                                   "currency": "GBP", "rule": {"order_count": {"$gte": 1},
                                                               "first_order": False}})
        cart = dict(CART, currency="GBP")
        self.assertEqual(self.decide("reg-1", cart)["offers"], [])
        self.c.call("order.record", {"order_id": "reg-o1", "customer_id": "reg-1",
                                     "ts": 1700000000, "currency": "GBP",
                                     "lines": [{"product_id": "mug", "quantity": 1,
                                                "unit_price": 900}]})
        self.assertEqual([o["offer_id"] for o in self.decide("reg-1", cart)["offers"]],
                         ["regulars"])
        self.a.call("offers.archive", {"id": "regulars"})

    def test_y_archive_removes_from_decisions(self):
        self.a.call("offers.set", {"id": "gone", "kind": "amount_off", "value": 50,
                                   "currency": "EUR", "stackable": True})
        cu = "arch-1"
        self.assertIn("gone", [o["offer_id"] for o in self.decide(cu)["offers"]])
        self.a.call("offers.archive", {"id": "gone"})
        self.assertNotIn("gone", [o["offer_id"] for o in self.decide(cu)["offers"]])
        self.assertTrue(self.a.call("offers.get", {"id": "gone"})["archived"])


class RestartTest(unittest.TestCase):
    def test_catalogue_keys_and_counts_survive_a_restart(self):
        d = Daemon(PATROND).start()
        try:
            a, c = Client(d.admin), Client(d.sock)
            a.call("offers.set", dict(OFFER, budget={"redemptions": 2}))
            cust = [x for x in ("r%d" % i for i in range(100)) if treated("ten_off", x, 0.5)]
            toks = [c.call("offers.decide", {"customer": x, "cart": CART})["offers"][0]["token"]
                    for x in cust[:3]]
            c.call("offers.redeem", {"token": toks[0], "customer": cust[0], "cart": CART,
                                     "idempotency_key": "a"})
            a.close(), c.close()
            d.stop()
            d.start()
            a, c = Client(d.admin), Client(d.sock)
            self.assertEqual(c.call("offers.decide", {"customer": cust[0], "cart": CART})
                             ["offers"][0]["offer_id"], "ten_off")  # catalogue rebuilt at start
            r = c.call("offers.redeem", {"token": toks[1], "customer": cust[1], "cart": CART,
                                         "idempotency_key": "b"})  # same key ring
            self.assertEqual(r["redemptions_left"], 0)
            with self.assertRaises(RpcError) as cm:
                c.call("offers.redeem", {"token": toks[2], "customer": cust[2], "cart": CART,
                                         "idempotency_key": "c"})
            self.assertIn("budget_exhausted", cm.exception.err["message"])
            a.close(), c.close()
        finally:
            d.stop()


if __name__ == "__main__":
    PATROND = sys.argv.pop(1)
    unittest.main(verbosity=2)

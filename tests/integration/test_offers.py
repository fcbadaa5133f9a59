"""test_offers.py -- the offers and experiments methods of the real patrond over the wire
(issue 9): offers.set/get/list/archive, experiments.assign checked against an independent
GrowthBook hash (FNV-1a 32, version 1, written here from the SDK's definition), offers.decide
giving a signed token to a customer in the treatment arm and nothing to one in the holdout,
offers.redeem accepted once, a replay returning the first answer, a forged token refused,
the budget never exceeded by concurrent redemptions from several connections, offers.event
idempotent, experiments.report showing the arms, and the catalogue following offers.archive.
usage: python3 test_offers.py PATH/TO/patrond"""
import os
import sys
import threading
import time
import unittest

from patrontest import Client, Daemon, RpcError, wait_until

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


CART = {"currency": "EUR", "lines": [{"product_id": "mug", "category": "kitchen", "quantity": 2,
                                      "unit_price": 2500}]}
OFFER = {"id": "ten_off", "kind": "percent_off", "value": 10, "currency": "EUR",
         "budget": {"redemptions": 5}, "experiment": {"holdout": 0.5}}


class OffersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(PATROND, sync=False).start()
        cls.c = Client(cls.d.sock)
        cls.a = Client(cls.d.admin)
        r = cls.a.call("offers.set", OFFER)
        assert r["offer_id"] == "ten_off", r
        cls.a.call("offers.reload")  # answers once the rebuilt catalogue is served
        cls.treated = [c for c in ("c%d" % i for i in range(200)) if treated("ten_off", c, 0.5)]
        cls.holdout = [c for c in ("c%d" % i for i in range(200)) if not treated("ten_off", c, 0.5)]
        assert len(cls.treated) > 20 and len(cls.holdout) > 20

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def decide(self, customer, cart=CART):
        return self.c.call("offers.decide", {"customer_id": customer, "cart": cart})

    def set_offer(self, definition):
        """offers.set, then offers.reload: the catalogue is rebuilt on the worker, and the
        reload's answer comes once every rebuild queued before it is served."""
        self.a.call("offers.set", definition)
        return self.a.call("offers.reload")

    def barrier(self):
        """A write answered: every write queued before it (the exposures offers.decide
        queues) has committed (one writer, batches commit in order)."""
        self.c.call("customer.upsert", {"customer_id": "barrier"})

    def test_admin_only_and_get_list(self):
        with self.assertRaises(RpcError) as cm:
            self.c.call("offers.set", OFFER)
        self.assertEqual(cm.exception.code, "forbidden")
        g = self.a.call("offers.get", {"offer_id": "ten_off"})
        self.assertEqual(g["offer"]["value"], 10)
        self.assertFalse(g["archived"])
        ids = [o["id"] for o in self.a.call("offers.list", {})["offers"]]
        self.assertIn("ten_off", ids)
        with self.assertRaises(RpcError) as cm:
            self.a.call("offers.get", {"offer_id": "nope"})
        self.assertEqual(cm.exception.code, "not_found")

    def test_bad_definition_names_the_path(self):
        with self.assertRaises(RpcError) as cm:
            self.a.call("offers.set", dict(OFFER, id="bad", rule={"age": {"$gtx": 3}}))
        self.assertEqual(cm.exception.code, "invalid_params")
        self.assertTrue(cm.exception.field.startswith("rule"), cm.exception.field)
        with self.assertRaises(RpcError):
            self.a.call("offers.get", {"offer_id": "bad"})  # nothing stored

    def test_assign_matches_independent_hash(self):
        for i, cid in enumerate(["u1", "user-42", "zoë", "😀x", "c17"]):
            h = gb_hash_v1("exp", cid)
            r = self.c.call("experiments.assign", {"key": "exp", "id": cid, "weights": [0.5, 0.5]})
            self.assertAlmostEqual(r["hash"], h, places=12)
            self.assertTrue(r["in_experiment"])
            self.assertEqual(r["variation"], 0 if h < 0.5 else 1)
        # the common call is read straight from msgpack, the rest through JSON: the same
        # answers (a namespace covering everything takes the second path)
        for cid in ["u%d" % i for i in range(40)] + ["zoë"]:
            q = {"key": "exp2", "id": cid, "weights": [0.2, 0.3, 0.5], "coverage": 0.8,
                 "seed": "s", "hash_version": 2}
            self.assertEqual(self.c.call("experiments.assign", q),
                             self.c.call("experiments.assign", dict(q, namespace=["n", 0, 1])))
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
        req = {"token": tok, "customer_id": cust, "cart": CART, "idempotency_key": "r-" + cust}
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
            self.c.call("offers.redeem", dict(req, customer_id="intruder", idempotency_key="i1"))
        self.assertEqual(cm.exception.code, "forbidden")

    def test_z_budget_under_concurrent_redeems(self):
        budget = 7
        # its own currency: the other offers (EUR) are not eligible on these carts
        self.set_offer({"id": "scarce", "kind": "amount_off", "value": 300,
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
                    r = cl.call("offers.redeem", {"token": tok, "customer_id": cu, "cart": cart,
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
        self.set_offer({"id": "rep", "kind": "amount_off", "value": 100,
                        "currency": "EUR", "experiment": {"holdout": 0.5}})
        n, exposed = 0, None
        for cu in self.treated[:10] + self.holdout[:10]:
            o = [x for x in self.decide(cu)["offers"] if x["offer_id"] == "rep"]
            if not o:
                continue
            # the shop logs the impression under its impression id: the same event as the
            # exposure offers.decide queued, so a replay
            ev = {"type": "impression", "idempotency_key": o[0]["impression_id"],
                  "offer_id": "rep", "customer_id": cu, "arm": o[0]["arm"]}
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
        self.a.call("offers.archive", {"offer_id": "rep"})  # out of the other tests' decisions
        self.a.call("offers.reload")
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
        self.set_offer({"id": "regulars", "kind": "amount_off", "value": 70,
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
        self.a.call("offers.archive", {"offer_id": "regulars"})
        self.a.call("offers.reload")

    def test_y_archive_removes_from_decisions(self):
        """The catalogue follows offers.set / offers.archive by itself (rebuilt on the worker,
        swapped in on the loop): wait for the decision to change, no explicit reload."""
        self.a.call("offers.set", {"id": "gone", "kind": "amount_off", "value": 50,
                                   "currency": "EUR", "stackable": True})
        cu = "arch-1"
        wait_until(lambda: "gone" in [o["offer_id"] for o in self.decide(cu)["offers"]],
                   what="offers.set reaching the served catalogue")
        self.a.call("offers.archive", {"offer_id": "gone"})
        wait_until(lambda: "gone" not in [o["offer_id"] for o in self.decide(cu)["offers"]],
                   what="offers.archive reaching the served catalogue")
        self.assertTrue(self.a.call("offers.get", {"offer_id": "gone"})["archived"])
        with self.assertRaises(RpcError) as cm:
            self.a.call("offers.archive", {"id": "gone"})  # the old name is refused
        self.assertEqual((cm.exception.code, cm.exception.field), ("invalid_params", "id"))

    def test_w_decide_records_exposures_once(self):
        """offers.decide queues the exposure of every decided item (shown and held out):
        exposures = distinct customers per arm, arms as the independent hash says; deciding
        again within the hour changes nothing."""
        self.set_offer({"id": "expo", "kind": "amount_off", "value": 40, "currency": "CHF",
                        "experiment": {"holdout": 0.5}})
        cart = dict(CART, currency="CHF")
        custs = ["e%d" % i for i in range(60)]
        for _ in range(2):
            for cu in custs:
                items = self.decide(cu, cart)["offers"]
                self.assertEqual([(o["offer_id"], o["arm"]) for o in items],
                                 [("expo", 1 if treated("expo", cu, 0.5) else 0)])
            self.barrier()
            rep = self.a.call("experiments.report", {"offer_id": "expo"})
            want_t = sum(treated("expo", cu, 0.5) for cu in custs)
            self.assertEqual([a["exposures"] for a in rep["arms"]], [60 - want_t, want_t])
        with self.assertRaises(RpcError) as cm:
            self.c.call("offers.decide", {"customer": "e1", "cart": cart})
        self.assertEqual(cm.exception.field, "customer")
        with self.assertRaises(RpcError) as cm:
            self.decide("e1", {"currency": "CHF", "lines": [{"product": "x", "unit_price": 1}]})
        self.assertEqual(cm.exception.field, "cart.lines[0].product")

    def test_v_rule_on_loyalty_tier_and_points(self):
        self.a.call("loyalty.program.set", {
            "tiers": [{"name": "silver", "entry_threshold": 500, "earn_mult_bp": 10000},
                      {"name": "gold", "entry_threshold": 1000, "earn_mult_bp": 10000}],
            "basis": "points", "window": "lifetime", "downgrade": "never",
            "earn": [{"currency": "SEK", "points": 1, "per_minor": 100}], "pending_days": 0})
        self.set_offer({"id": "gold_only", "kind": "amount_off", "value": 90, "currency": "SEK",
                        "rule": {"tier": "gold"}})
        self.set_offer({"id": "rich", "kind": "amount_off", "value": 80, "currency": "SEK",
                        "stackable": True,
                        "rule": {"points": {"$gte": 700}, "tier": {"$ne": "gold"}}})
        cart = dict(CART, currency="SEK")

        def offers(cu):
            return sorted(o["offer_id"] for o in self.decide(cu, cart)["offers"])

        for cu, kronor in (("t-gold", 1200), ("t-silver", 750), ("t-none", 10)):
            self.c.call("order.record", {"order_id": "to-" + cu, "customer_id": cu,
                                         "ts": int(time.time()) - 60, "currency": "SEK",
                                         "lines": [{"product_id": "mug", "quantity": 1,
                                                    "unit_price": kronor * 100}]})
        self.assertEqual(self.c.call("loyalty.tier", {"customer_id": "t-gold"})["tier"], "gold")
        self.assertEqual(offers("t-gold"), ["gold_only"])  # non-stackable: shown alone
        self.assertEqual(offers("t-silver"), ["rich"])
        self.assertEqual(offers("t-none"), [])
        # the program changes (a platinum tier above gold): once the re-evaluation pass made
        # t-gold platinum, the next decision sees the new tier, which only the new program
        # has (the loop keeps the decoded program and must notice it changed)
        self.set_offer({"id": "plat_only", "kind": "amount_off", "value": 95, "currency": "SEK",
                        "stackable": True,
                        "rule": {"tier": "platinum"}})
        self.a.call("loyalty.program.set", {
            "tiers": [{"name": "silver", "entry_threshold": 500, "earn_mult_bp": 10000},
                      {"name": "gold", "entry_threshold": 1000, "earn_mult_bp": 10000},
                      {"name": "platinum", "entry_threshold": 1100, "earn_mult_bp": 10000}],
            "basis": "points", "window": "lifetime", "downgrade": "never",
            "earn": [{"currency": "SEK", "points": 1, "per_minor": 100}], "pending_days": 0})
        for _ in range(500):  # the pass is a chain of jobs: wait for its write
            if self.c.call("loyalty.tier", {"customer_id": "t-gold"}).get("tier") == "platinum":
                break
            self.barrier()
        self.assertEqual(self.c.call("loyalty.tier", {"customer_id": "t-gold"})["tier"],
                         "platinum")
        self.assertIn("plat_only", offers("t-gold"))
        self.assertEqual(offers("t-silver"), ["rich"])
        for oid in ("gold_only", "rich", "plat_only"):
            self.a.call("offers.archive", {"offer_id": oid})
        self.a.call("offers.reload")

    def test_u_rotate_key(self):
        """A token of the previous key still redeems; one of the key before is refused."""
        self.set_offer({"id": "rot", "kind": "amount_off", "value": 10, "currency": "NOK",
                        "stackable": True})
        cart = dict(CART, currency="NOK")

        def token(cu):
            return [o for o in self.decide(cu, cart)["offers"] if o["offer_id"] == "rot"][0]["token"]

        def redeem(cu, tok):
            return self.c.call("offers.redeem", {"token": tok, "customer_id": cu, "cart": cart,
                                                 "idempotency_key": "rot-" + cu})

        t1 = {cu: token(cu) for cu in ("k1a", "k1b")}
        with self.assertRaises(RpcError) as cm:
            self.c.call("offers.rotate_key")
        self.assertEqual(cm.exception.code, "forbidden")
        r1 = self.a.call("offers.rotate_key")
        self.assertEqual(r1["previous_key_id"] + 1, r1["key_id"])
        self.assertGreater(r1["previous_valid_until"], time.time() + 3600)
        self.assertEqual(redeem("k1a", t1["k1a"])["offer_id"], "rot")  # previous key: accepted
        t2 = token("k2")
        self.assertNotEqual(t2[:8], t1["k1a"][:8])  # the key id is in the token's head
        self.a.call("offers.rotate_key")
        self.assertEqual(redeem("k2", t2)["offer_id"], "rot")
        with self.assertRaises(RpcError) as cm:  # signed two keys ago
            redeem("k1b", t1["k1b"])
        self.assertEqual(cm.exception.code, "forbidden")
        self.assertTrue(cm.exception.err["message"].startswith("token_bad_signature"),
                        cm.exception.err)
        self.assertEqual(redeem("k3", token("k3"))["offer_id"], "rot")
        if not os.environ.get("PATRON_TEST_PG_HOST"):  # on PostgreSQL the ring is a record
            self.assertEqual(oct(os.stat(os.path.join(self.d.data, "offers.key")).st_mode
                                 & 0o777), "0o600")
        self.a.call("offers.archive", {"offer_id": "rot"})
        self.a.call("offers.reload")


def global_held(customer, share):
    """docs/OFFERS.md section 2: GrowthBook assignment of key "patron-global-holdout"
    (seed = key, hash version 1), variation 0 of [share, 1 - share] is the global holdout."""
    return gb_hash_v1("patron-global-holdout", customer) < share


class GlobalHoldoutTest(unittest.TestCase):
    def test_engine_against_global_holdout(self):
        share = 0.3
        d = Daemon(PATROND, extra=["--set", "offers.global_holdout=%g" % share],
                   sync=False).start()
        try:
            a, c = Client(d.admin), Client(d.sock)
            a.call("offers.set", {"id": "gh", "kind": "amount_off", "value": 100,
                                  "currency": "EUR"})
            a.call("offers.reload")
            custs = ["g%d" % i for i in range(400)]
            held = set()
            for cu in custs:
                r = c.call("offers.decide", {"customer_id": cu, "cart": CART})
                self.assertEqual(r["global_holdout"], global_held(cu, share), cu)
                self.assertEqual(len(r["offers"]), 0 if r["global_holdout"] else 1)
                if r["global_holdout"]:
                    held.add(cu)
            # orders: every engine customer g<i> with i % 3 == 0 buys, no held-out one does
            now = int(time.time()) + 1  # after every decision: inside the attribution window
            buyers = [cu for i, cu in enumerate(custs) if cu not in held and i % 3 == 0]
            for cu in buyers:
                c.call("order.record", {"order_id": "go-" + cu, "customer_id": cu, "ts": now,
                                        "currency": "EUR", "lines": [{"product_id": "mug",
                                                                      "quantity": 1,
                                                                      "unit_price": 3000}]})
            rep = a.call("experiments.report", {"global": True, "currency": "EUR"})
            self.assertEqual([x["name"] for x in rep["arms"]], ["global_holdout", "engine"])
            self.assertEqual([x["exposures"] for x in rep["arms"]],
                             [len(held), len(custs) - len(held)])
            self.assertEqual([x["conversions"] for x in rep["arms"]], [0, len(buyers)])
            self.assertEqual(rep["arms"][1]["revenue"], 3000 * len(buyers))
            vs = rep["arms"][1]["vs_holdout"]["conversion_abs"]
            p = len(buyers) / (len(custs) - len(held))
            self.assertAlmostEqual(vs["estimate"], p, places=9)
            self.assertLess(vs["lower"], p)
            self.assertGreater(vs["upper"], p)
            self.assertFalse(rep["srm"]["mismatch"])
            self.assertAlmostEqual(rep["global_holdout"], share)
            with self.assertRaises(RpcError) as cm:
                a.call("experiments.report", {"global": True, "currency": "EUR", "offer_id": "gh"})
            self.assertEqual(cm.exception.field, "offer_id")
            a.close(), c.close()
        finally:
            d.stop()


class RestartTest(unittest.TestCase):
    def test_catalogue_keys_and_counts_survive_a_restart(self):
        d = Daemon(PATROND).start()
        try:
            a, c = Client(d.admin), Client(d.sock)
            a.call("offers.set", dict(OFFER, budget={"redemptions": 2}))
            a.call("offers.reload")
            cust = [x for x in ("r%d" % i for i in range(100)) if treated("ten_off", x, 0.5)]
            toks = [c.call("offers.decide", {"customer_id": x, "cart": CART})["offers"][0]["token"]
                    for x in cust[:3]]
            c.call("offers.redeem", {"token": toks[0], "customer_id": cust[0], "cart": CART,
                                     "idempotency_key": "a"})
            a.close(), c.close()
            d.stop()
            d.start()
            a, c = Client(d.admin), Client(d.sock)
            self.assertEqual(c.call("offers.decide", {"customer_id": cust[0], "cart": CART})
                             ["offers"][0]["offer_id"], "ten_off")  # catalogue rebuilt at start
            r = c.call("offers.redeem", {"token": toks[1], "customer_id": cust[1], "cart": CART,
                                         "idempotency_key": "b"})  # same key ring
            self.assertEqual(r["redemptions_left"], 0)
            with self.assertRaises(RpcError) as cm:
                c.call("offers.redeem", {"token": toks[2], "customer_id": cust[2], "cart": CART,
                                         "idempotency_key": "c"})
            self.assertIn("budget_exhausted", cm.exception.err["message"])
            a.close(), c.close()
        finally:
            d.stop()


if __name__ == "__main__":
    PATROND = sys.argv.pop(1)
    unittest.main(verbosity=2)

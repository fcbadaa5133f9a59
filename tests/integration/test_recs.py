"""test_recs.py -- the recommendation methods of the real patrond over the wire (issue 4):
recs.cart / recs.upsell / recs.similar / recs.for_customer / recs.rules on a small hand-built
shop whose expected answers are computed here from the documented formulas (default model:
cosine squared = c_ij^2 / (n_i n_j); ties by popularity, then first appearance), the business
filters, stock and active flags acting at once, unknown products/customers as marked
fallbacks, incremental updates before any rebuild, orders recorded during a rebuild, refit
persistence across a restart, damaged model files (models/clv.bin, models/recs.snap) refused
at start with a log line and rebuilt, admin-only recs.rules, and bad inputs with field paths.
usage: python3 test_recs.py PATH/TO/patrond"""
import math
import os
import sys
import threading
import time
import unittest
from collections import Counter
from itertools import combinations

from patrontest import BuildGate, Client, Daemon, RpcError, order, wait_until

PATROND = None

PRODUCTS = [  # id, category, price (EUR cents), stock, margin
    ("mug", "kitchen", 1000, 10, 300), ("mug_xl", "kitchen", 1500, 10, 900),
    ("mug_big", "kitchen", 2500, 10, None), ("mug_gold", "kitchen", 5000, 10, None),
    ("plate", "kitchen", 800, 10, None), ("spoon", "kitchen", 200, 10, None),
    ("tea", "food", 500, 10, 100), ("coffee", "food", 700, 10, 400),
]
ORDERS = [  # order id, customer, products (time order = key order)
    ("o1", "c1", ["mug", "tea", "spoon"]), ("o2", "c2", ["mug", "tea"]),
    ("o3", "c3", ["mug", "coffee"]), ("o4", "c4", ["tea", "coffee"]),
    ("o5", "c1", ["mug_xl", "tea"]), ("o6", "c5", ["plate", "spoon"]),
    ("o7", "c6", ["mug", "mug_xl"]),
]


def first_seen():
    seen = []
    for _, _, items in ORDERS:
        for p in items:
            if p not in seen:
                seen.append(p)
    return seen


def graph(transactions):
    n, c = Counter(), Counter()
    for t in transactions:
        t = sorted(set(t))
        n.update(t)
        for a, b in combinations(t, 2):
            c[a, b] += 1
            c[b, a] += 1
    return n, c


def score_rows(sources, n, c, exclude):
    s = Counter()
    for i in sources:
        for (a, b), cab in c.items():
            if a == i and b not in exclude:
                s[b] += cab * cab / (n[a] * n[b])
    return s


def ranked(scores):
    pop, _ = graph([o[2] for o in ORDERS])
    order = first_seen()
    return sorted(scores, key=lambda j: (-round(scores[j], 6), -pop[j], order.index(j)))


def ids(ans):
    return [x["product_id"] for x in ans["items"]]


class ShopTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # the scores checked below are the co-occurrence model's (cosine squared, computed
        # independently here); EASE is checked in tests/unit/test_recs_ease.c
        cls.d = Daemon(PATROND, extra=["--set", "recs.consumable_categories=food",
                                       "--set", "models.recs_model=cooc",
                                       "--set", "models.recs_rebuild_interval_s=0"],
                       sync=False).start()
        cls.c = Client(cls.d.sock)
        cls.a = Client(cls.d.admin)
        for pid, cat, price, stock, margin in PRODUCTS:
            p = {"product_id": pid, "category": cat, "price": price, "currency": "EUR",
                 "stock": stock}
            if margin is not None:
                p["margin"] = margin
            cls.c.call("product.upsert", p)
        for oid, cust, items in ORDERS:
            cls.c.call("order.record", order(oid, cust, ts=1700000000 + int(oid[1:]) * 60, lines=[
                {"product_id": p, "quantity": 1, "unit_price": 100} for p in items]))
        r = cls.a.call("model.refit", {"models": ["recs"]})
        assert r["models"][0]["status"] == "ready", r
        cls.version = r["models"][0]["version"]
        cls.bn, cls.bc = graph([o[2] for o in ORDERS])
        per_cust = {}
        for _, cust, items in ORDERS:
            per_cust.setdefault(cust, set()).update(items)
        cls.cn, cls.cc = graph(list(per_cust.values()))

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        cls.a.close()
        rc = cls.d.stop()
        cls.d.cleanup()
        assert rc == 0, rc

    def cart(self, items, **kw):
        p = {"items": items}
        p.update(kw)
        return self.c.call("recs.cart", p)

    def assertRpcError(self, code, field, method, params, client=None):
        with self.assertRaises(RpcError) as cm:
            (client or self.c).call(method, params)
        self.assertEqual(cm.exception.code, code, cm.exception.err)
        if field is not None:
            self.assertEqual(cm.exception.field, field, cm.exception.err)

    # ---- recs.cart ----
    def test_cart_scores_every_cart_item(self):
        for cart in (["mug"], ["tea", "spoon"], ["mug", "coffee"], ["plate", "mug_xl"]):
            exp = score_rows(cart, self.bn, self.bc, set(cart))
            ans = self.cart(cart, limit=len(exp))
            self.assertEqual(ids(ans), ranked(exp), cart)
            for x in ans["items"]:
                self.assertAlmostEqual(x["score"], exp[x["product_id"]], places=5)
                self.assertEqual(x["reason"], "co_purchase")
            self.assertEqual(ans["fallback"], "none")
            self.assertEqual(ans["model_version"], self.version)
            self.assertEqual(ans["unknown_items"], 0)

    def test_cart_fills_with_popular_and_says_so(self):
        ans = self.cart(["mug"], limit=10)
        self.assertEqual(ids(ans), ["tea", "spoon", "coffee", "mug_xl", "plate"])
        self.assertEqual(ans["items"][-1]["reason"], "popular")
        self.assertEqual(ans["items"][-1]["score"], 0)
        self.assertEqual(ans["fallback"], "popular")

    def test_cart_customer_history_adds_repurchase(self):
        # c1 bought mug, tea, spoon (o1) and mug_xl, tea (o5): tea in 2 of 2 orders
        ans = self.cart(["coffee"], customer_id="c1", limit=3)
        exp = score_rows(["coffee"], self.bn, self.bc, {"coffee"})
        for item, cnt in {"mug": 1, "tea": 2, "spoon": 1, "mug_xl": 1}.items():
            exp[item] += 0.1 * cnt / 2
        self.assertEqual(ids(ans), ranked(exp)[:3])
        self.assertEqual(ans["history_orders"], 2)
        self.assertTrue(ans["customer_known"])
        # items of the customer's own history say so; the others are co-purchases
        full = self.cart(["coffee"], customer_id="c1", limit=10)
        hist = {"mug", "tea", "spoon", "mug_xl"}
        self.assertTrue(hist <= set(ids(full)))
        for x in full["items"]:
            self.assertEqual(x["reason"], "repurchase" if x["product_id"] in hist else
                             "co_purchase" if x["score"] > 0 else "popular", x)
        # without a customer the same items are co-purchases
        self.assertTrue(all(x["reason"] in ("co_purchase", "popular")
                            for x in self.cart(["coffee"], limit=10)["items"]))

    def test_unknown_products_get_marked_fallback(self):
        ans = self.cart(["nope-1", "nope-2"], limit=3)
        self.assertEqual(ans["fallback"], "popular")
        self.assertEqual(ans["unknown_items"], 2)
        self.assertEqual(ids(ans), ["mug", "tea", "spoon"])  # most orders, then first seen
        self.assertTrue(all(x["reason"] == "popular" for x in ans["items"]))
        ans = self.cart(["mug", "nope"], customer_id="nobody", limit=1)
        self.assertEqual(ans["unknown_items"], 1)
        self.assertFalse(ans["customer_known"])
        self.assertEqual(ids(ans), ["tea"])

    # ---- filters ----
    def test_filters(self):
        base = ["tea", "spoon", "coffee", "mug_xl", "plate"]
        self.assertEqual(ids(self.cart(["mug"], filters={"exclude_categories": ["food", "toys"]})),
                         ["spoon", "mug_xl", "plate"])
        self.assertEqual(ids(self.cart(["mug"], filters={"exclude_products": ["tea", "zzz"]})),
                         [x for x in base if x != "tea"])
        self.assertEqual(ids(self.cart(["mug"], filters={"min_price": 600, "max_price": 1600})),
                         ["coffee", "mug_xl", "plate"])
        self.assertEqual(ids(self.cart(["mug"], filters={"max_price": 600, "currency": "USD"})), [])
        self.assertEqual(ids(self.cart(["mug"], filters={"max_per_category": 1})), ["tea", "spoon"])
        boosted = self.cart(["mug"], limit=4, filters={"boost_margin": 10})
        exp = {"mug_xl": 0.125 * 7, "coffee": 0.125 * (1 + 10 * 400 / 700), "tea": 0.25 * 3,
               "spoon": 0.125}
        self.assertEqual(ids(boosted), sorted(exp, key=lambda k: -exp[k]))
        for x in boosted["items"]:
            self.assertAlmostEqual(x["score"], exp[x["product_id"]], places=4)

    def test_out_of_stock_and_inactive_disappear_at_once(self):
        try:
            self.c.call("product.upsert", {"product_id": "tea", "stock": 0})
            self.assertNotIn("tea", ids(self.cart(["mug"])))
            self.assertIn("tea", ids(self.cart(["mug"], filters={"in_stock_only": False})))
            self.c.call("product.upsert", {"product_id": "coffee", "active": False})
            for f in ({}, {"in_stock_only": False}):
                self.assertNotIn("coffee", ids(self.cart(["mug"], filters=f)))
        finally:
            self.c.call("product.upsert", {"product_id": "tea", "stock": 10})
            self.c.call("product.upsert", {"product_id": "coffee", "active": True})
        self.assertEqual(ids(self.cart(["mug"], limit=3)), ["tea", "spoon", "coffee"])

    # ---- recs.similar ----
    def test_similar_uses_customers(self):
        exp = score_rows(["mug"], self.cn, self.cc, {"mug"})
        ans = self.c.call("recs.similar", {"product_id": "mug", "limit": 5})
        self.assertEqual(ids(ans), ranked(exp) + ["plate"])
        self.assertEqual(ids(ans)[:2], ["mug_xl", "tea"])
        self.assertAlmostEqual(ans["items"][0]["score"], 0.5, places=5)
        self.assertEqual(ans["fallback"], "popular")
        unk = self.c.call("recs.similar", {"product_id": "ghost", "limit": 2})
        self.assertEqual((unk["fallback"], unk["unknown_items"], ids(unk)), ("popular", 1, ["mug", "tea"]))

    # ---- recs.upsell ----
    def test_upsell_same_category_pricier_within_ratio(self):
        ans = self.c.call("recs.upsell", {"product_id": "mug"})
        # kitchen, price in (1000, 3000]: mug_xl (bought by mug buyers), then mug_big (never
        # sold: the price band step), then mug_gold (5000: pricier, beyond the band)
        self.assertEqual(ids(ans), ["mug_xl", "mug_big", "mug_gold"])
        self.assertTrue(all(x["reason"] == "upsell" for x in ans["items"]))
        self.assertAlmostEqual(ans["items"][0]["score"], 0.5, places=5)
        self.assertEqual([x["score"] for x in ans["items"][1:]], [0, 0])
        self.assertEqual(ans["fallback"], "price_band")
        self.assertEqual(self.c.call("recs.upsell", {"product_id": "mug", "limit": 1})["fallback"],
                         "none")
        # c6 already owns mug_xl; a cart item is never offered
        self.assertEqual(ids(self.c.call("recs.upsell", {"product_id": "mug", "customer_id": "c6",
                                                         "limit": 1})), ["mug_big"])
        self.assertEqual(ids(self.c.call("recs.upsell", {"product_id": "mug", "items": ["mug_big"],
                                                         "limit": 1})), ["mug_xl"])
        self.assertEqual(ids(self.c.call("recs.upsell", {"product_id": "tea"})), ["coffee"])
        unk = self.c.call("recs.upsell", {"product_id": "ghost", "limit": 1})
        self.assertEqual((unk["fallback"], unk["unknown_items"]), ("popular", 1))

    # ---- recs.for_customer ----
    def test_for_customer_excludes_bought_unless_consumable(self):
        # c2 bought mug and tea; food is consumable here, kitchen is not
        exp = score_rows(["mug", "tea"], self.cn, self.cc, {"mug"})
        exp["tea"] += 0.1
        ans = self.c.call("recs.for_customer", {"customer_id": "c2", "limit": 5})
        self.assertEqual(ids(ans), ranked(exp) + ["plate"])
        self.assertNotIn("mug", ids(ans))
        self.assertEqual(ans["items"][0]["reason"], "personal")
        self.assertTrue(ans["customer_known"])
        self.assertEqual(ans["history_orders"], 1)

    def test_for_customer_cold_start(self):
        ans = self.c.call("recs.for_customer", {"customer_id": "newcomer", "limit": 3})
        self.assertFalse(ans["customer_known"])
        self.assertIn(ans["fallback"], ("trending", "popular"))
        self.assertEqual(len(ans["items"]), 3)
        self.assertTrue(all(x["reason"] in ("trending", "popular") for x in ans["items"]))

    # ---- recs.rules ----
    def test_rules_admin_only_and_exact(self):
        self.assertRpcError("forbidden", None, "recs.rules", {})
        r = self.a.call("recs.rules", {"min_support": 0.2, "min_confidence": 0.5})
        self.assertEqual((r["baskets"], r["total"]), (7, 2))
        got = sorted((x["lhs"], x["rhs"]) for x in r["rules"])
        self.assertEqual(got, [(["mug"], "tea"), (["tea"], "mug")])
        for x in r["rules"]:
            self.assertAlmostEqual(x["support"], 2 / 7, places=6)
            self.assertAlmostEqual(x["confidence"], 0.5, places=6)
            self.assertAlmostEqual(x["lift"], 0.5 / (4 / 7), places=6)
            self.assertEqual(x["count"], 2)
        only = self.a.call("recs.rules", {"min_support": 0.1, "product_id": "coffee", "limit": 100})
        self.assertTrue(only["rules"])
        self.assertTrue(all("coffee" in x["lhs"] or x["rhs"] == "coffee" for x in only["rules"]))

    # ---- bad inputs ----
    def test_bad_inputs(self):
        E = self.assertRpcError
        E("invalid_params", "items", "recs.cart", {})
        E("invalid_params", "items", "recs.cart", {"items": []})
        E("invalid_params", "items[1]", "recs.cart", {"items": ["a", 7]})
        E("invalid_params", "limit", "recs.cart", {"items": ["a"], "limit": 0})
        E("invalid_params", "limit", "recs.cart", {"items": ["a"], "limit": 51})  # max_results 50
        E("invalid_params", "filters.max_price", "recs.cart",
          {"items": ["a"], "filters": {"min_price": 10, "max_price": 5}})
        E("invalid_params", "filters.colour", "recs.cart", {"items": ["a"], "filters": {"colour": 1}})
        E("invalid_params", "filters", "recs.cart", {"items": ["a"], "filters": [1]})
        E("invalid_params", "filters.boost_margin", "recs.cart",
          {"items": ["a"], "filters": {"boost_margin": -1}})
        E("invalid_params", "filters.currency", "recs.cart",
          {"items": ["a"], "filters": {"currency": "XYZ"}})
        E("invalid_params", "customer_id", "recs.cart", {"items": ["a"], "customer_id": ""})
        E("invalid_params", "product_id", "recs.similar", {})
        E("invalid_params", "customer_id", "recs.for_customer", {})
        E("invalid_params", "items", "recs.similar", {"product_id": "a", "items": ["b"]})
        E("invalid_params", "min_support", "recs.rules", {"min_support": 0}, client=self.a)
        E("invalid_params", "max_len", "recs.rules", {"max_len": 9}, client=self.a)


class LifecycleTest(unittest.TestCase):
    def setUp(self):
        # without the answer cache: every answer here is computed (ShopTest runs with it)
        self.d = Daemon(PATROND, extra=["--set", "models.recs_rebuild_interval_s=0",
                                        "--set", "cache.read_cache_mb=0"], sync=False)
        self.d.start()

    def tearDown(self):
        rc = self.d.stop()
        self.d.cleanup()
        self.assertEqual(rc, 0)

    def test_incremental_then_refit_then_restart(self):
        c, a = Client(self.d.sock), Client(self.d.admin)
        for oid, cust, items in ORDERS:
            c.call("order.record", order(oid, cust, ts=1700000000 + int(oid[1:]), lines=[
                {"product_id": p, "quantity": 1, "unit_price": 100} for p in items]))
        v0 = c.call("model.status")
        # before any rebuild, new orders already drive recs.cart
        ans = c.call("recs.cart", {"items": ["mug"], "limit": 1})
        self.assertEqual(ids(ans), ["tea"])
        r = a.call("model.refit", {"models": ["recs"]})["models"][0]
        self.assertEqual(r["status"], "ready")
        v = r["version"]
        self.assertGreaterEqual(v, 1)
        self.assertEqual(r["items"], 6)
        before = c.call("recs.cart", {"items": ["kettle"], "limit": 2})
        self.assertEqual(before["fallback"], "popular")
        c.call("order.record", order("o8", "c7", ts=1700000100, lines=[
            {"product_id": "kettle", "quantity": 1, "unit_price": 100},
            {"product_id": "teapot", "quantity": 1, "unit_price": 100}]))
        ans = c.call("recs.cart", {"items": ["kettle"], "limit": 1})
        self.assertEqual(ids(ans), ["teapot"])
        self.assertEqual(ans["items"][0]["reason"], "co_purchase")
        self.assertEqual(ans["model_version"], v)  # no rebuild happened
        # an order recorded while a rebuild runs is never lost
        result = {}
        t = threading.Thread(target=lambda: result.update(a.call("model.refit", {"models": ["recs"]})))
        t.start()
        c.call("order.record", order("o9", "c8", ts=1700000200, lines=[
            {"product_id": "fork", "quantity": 1, "unit_price": 100},
            {"product_id": "knife", "quantity": 1, "unit_price": 100}]))
        t.join()
        self.assertEqual(result["models"][0]["version"], v + 1)
        self.assertEqual(ids(c.call("recs.cart", {"items": ["fork"], "limit": 1})), ["knife"])
        self.assertEqual(ids(c.call("recs.cart", {"items": ["kettle"], "limit": 1})), ["teapot"])
        snap = c.call("recs.cart", {"items": ["mug", "tea"], "limit": 5})
        c.close()
        a.close()
        # the persisted model serves at once after a restart, same version, same answers
        self.assertEqual(self.d.stop(), 0)
        self.d.start()
        c = Client(self.d.sock)
        st = [m for m in c.call("model.status")["models"] if m["name"] == "recs"][0]
        self.assertEqual((st["status"], st["version"]), ("ready", v + 1))
        self.assertEqual(c.call("recs.cart", {"items": ["mug", "tea"], "limit": 5}), snap)
        c.close()
        self.assertIsNotNone(v0)

    def test_damaged_model_files_refused_and_rebuilt(self):
        c, a = Client(self.d.sock), Client(self.d.admin)
        for oid, cust, items in ORDERS:
            c.call("order.record", order(oid, cust, ts=1700000000 + int(oid[1:]), lines=[
                {"product_id": p, "quantity": 1, "unit_price": 100} for p in items]))
        for _ in range(2):  # versions 2+: a model served from the file would keep counting
            built = {m["name"]: m for m in a.call("model.refit", {"models": ["clv", "recs"]})["models"]}
        self.assertGreaterEqual(built["recs"]["version"], 2)
        self.assertGreaterEqual(built["clv"]["version"], 2)
        cart = c.call("recs.cart", {"items": ["mug"], "limit": 3})
        cust = c.call("customer.get", {"customer_id": "c1"})
        c.close()
        a.close()
        self.assertEqual(self.d.stop(), 0)
        for name in ("clv.bin", "recs.snap"):  # one bit flipped in the middle of each
            path = os.path.join(self.d.data, "models", name)
            with open(path, "r+b") as f:
                f.seek(os.path.getsize(path) // 2)
                b = f.read(1)[0]
                f.seek(-1, os.SEEK_CUR)
                f.write(bytes([b ^ 0x20]))
        self.d.start()
        log = self.d.read_log()  # models load before the socket answers
        self.assertRegex(log, r"model clv: persisted model refused \(.*clv\.bin: checksum mismatch\); "
                              r"it will be rebuilt")
        self.assertRegex(log, r"recs: persisted model refused \(.*recs\.snap: checksum mismatch.*\); "
                              r"it will be rebuilt")
        c = Client(self.d.sock)
        # rebuilt from the store, not read from the damaged files: a new version sequence. On
        # the PostgreSQL backend the node is a fleet's model leader (docs/SCALEOUT.md section
        # 7): it loads the newest snapshots published in the database instead of the damaged
        # files and serves them; it rebuilds nothing at takeover (no build was left unfinished
        # and neither interval has run out since those snapshots were published)
        fleet = bool(os.environ.get("PATRON_TEST_PG_HOST"))
        want = {"clv": built["clv"]["version"], "recs": built["recs"]["version"]} \
            if fleet else {"clv": 1, "recs": 1}
        deadline = time.time() + 60  # the rebuild queued at start
        while True:
            st = {m["name"]: m for m in c.call("model.status")["models"]}
            if all(st[k]["status"] in ("ready", "insufficient_data") and
                   st[k]["version"] >= want[k] for k in ("clv", "recs")):
                break
            self.assertLess(time.time(), deadline, st)
            time.sleep(0.05)
        self.assertEqual((st["clv"]["version"], st["recs"]["version"]), (want["clv"], want["recs"]))
        again = c.call("recs.cart", {"items": ["mug"], "limit": 3})
        self.assertEqual(again["model_version"], want["recs"])
        self.assertEqual(again["items"], cart["items"])
        got = c.call("customer.get", {"customer_id": "c1"})
        self.assertEqual(got["model_version"], want["clv"])
        self.assertIn(got["segment"], ("champions", "loyal", "potential_loyalists", "new", "promising",
                                       "need_attention", "at_risk", "cannot_lose", "hibernating",
                                       "lost"))
        for k in ("segment", "rfm", "p_alive", "expected_purchases", "predicted_clv"):
            self.assertEqual(got.get(k), cust.get(k), k)
        c.close()


# A demo-like shop where co-consideration is empty (every customer bought one product): the
# upsell answers come from the documented widening steps alone. (id, category, price, stock)
THIN = [("b1", "brewing", 290, 0), ("b2", "brewing", 990, 12), ("b3", "brewing", 1490, 0),
        ("b4", "brewing", 2990, 40), ("b5", "brewing", 450, -1), ("b6", "brewing", 200, 5),
        ("t1", "tea", 9990, 10)]
THIN_POP = {"b1": 1, "b2": 3, "b3": 5, "b4": 2, "b5": 4, "b6": 1, "t1": 6}  # orders holding it


def widened_upsell(pid, in_stock_only=True, ratio=3.0):
    """The documented steps: same category, pricier, in stock; the band (p, ratio*p] by
    popularity (price_band), then the rest of the pricier items by popularity
    (category_popular)."""
    info = {p: (cat, price, stock) for p, cat, price, stock in THIN}
    cat, price, _ = info[pid]
    ok = [p for p, (c, pr, st) in info.items()
          if c == cat and pr > price and (st != 0 or not in_stock_only)]
    band = sorted((p for p in ok if info[p][1] <= price * ratio), key=lambda p: -THIN_POP[p])
    rest = sorted((p for p in ok if p not in band), key=lambda p: -THIN_POP[p])
    fallback = "price_band" if band else "category_popular" if rest else "none"
    return band + rest, fallback


class ThinUpsellTest(unittest.TestCase):
    def test_upsell_widens_in_steps(self):
        d = Daemon(PATROND, extra=["--set", "models.recs_rebuild_interval_s=0"], sync=False).start()
        try:
            c, a = Client(d.sock), Client(d.admin)
            for pid, cat, price, stock in THIN:
                c.call("product.upsert", {"product_id": pid, "category": cat, "price": price,
                                          "currency": "EUR", "stock": stock})
            k = 0
            for pid, n in THIN_POP.items():
                for _ in range(n):
                    k += 1
                    c.call("order.record", order("o%d" % k, "c%d" % k, ts=1700000000 + k, lines=[
                        {"product_id": pid, "quantity": 1, "unit_price": 100}]))
            self.assertEqual(a.call("model.refit", {"models": ["recs"]})["models"][0]["status"],
                             "ready")
            seen = set()
            for pid, _, _, _ in THIN:
                for stock_only in (True, False):
                    want, fb = widened_upsell(pid, stock_only)
                    ans = c.call("recs.upsell", {"product_id": pid, "limit": 10,
                                                 "filters": {"in_stock_only": stock_only}})
                    self.assertEqual((ids(ans), ans["fallback"]), (want, fb), (pid, stock_only))
                    self.assertTrue(all(x["reason"] == "upsell" and x["score"] == 0
                                        for x in ans["items"]))
                    seen.add(fb)
            # the out-of-stock cheapest item gets in-stock pricier ones; every step was used
            self.assertEqual(ids(c.call("recs.upsell", {"product_id": "b1"})), ["b5", "b2", "b4"])
            self.assertEqual(seen, {"price_band", "category_popular", "none"})
            c.close()
            a.close()
        finally:
            self.assertEqual(d.stop(), 0)
            d.cleanup()


class BackgroundBuildTest(unittest.TestCase):
    """Builds start only when asked (models.recs_rebuild_interval_s=0), and model.status shows
    a build while it runs: the daemon's test hook PATRON_DEBUG_BUILD_GATE holds each build at
    its start on a FIFO (open for reading = the build has started; open for writing = go)."""

    def fill_delta(self, c):
        # 1000-line orders of new products add 999000 directed pairs each; the delta holds
        # 4,000,000 (model_recs.h RECS_DELTA_MAX_PAIRS x 2)
        for k in range(5):
            lines = [{"product_id": "bulk%d-%04d" % (k, i), "quantity": 1, "unit_price": 100}
                     for i in range(1000)]
            c.call("order.record", order("bulk%d" % k, "c%d" % k, ts=1700000000 + k, lines=lines))

    def test_interval_zero_no_rebuild_when_delta_fills(self):
        for interval, auto in (("0", False), ("3600", True)):
            # the largest incremental budget: these 1000-line orders go to the delta and fill
            # it (test_recs_budget.py covers orders past the budget)
            d = Daemon(PATROND, extra=["--set", "models.recs_rebuild_interval_s=" + interval,
                                       "--set", "models.recs_delta_pairs_per_s=100000000"],
                       sync=False).start()
            try:
                c, a = Client(d.sock), Client(d.admin)
                # the start-up build (in the background) done first: its version is v0's
                wait_until(lambda: {m["name"]: m for m in a.call("model.status")["models"]}
                           ["recs"]["status"] != "building", what="the start-up recs build")
                c.call("order.record", order("first", "c9"))
                v0 = a.call("model.status")
                self.fill_delta(c)
                queued = d.log_count("full rebuild queued (incremental delta full)")
                self.assertEqual(queued, 1 if auto else 0, d.read_log())
                if not auto:
                    st = {m["name"]: m for m in a.call("model.status")["models"]}["recs"]
                    self.assertNotEqual(st["status"], "building")
                    self.assertEqual(st["version"], {m["name"]: m for m in v0["models"]}["recs"]["version"])
                    self.assertIn("incremental delta full", st["reason"], (st, d.read_log()))
                    r = a.call("model.refit", {"models": ["recs"]})["models"][0]
                    self.assertEqual((r["status"], r["reason"]), ("ready", ""))
                    self.assertGreater(r["version"], st["version"])
                    # the orders the delta could not take are in the rebuilt model
                    ans = c.call("recs.cart", {"items": ["bulk4-0000"], "limit": 1})
                    self.assertEqual((ans["fallback"], ans["items"][0]["reason"]),
                                     ("none", "co_purchase"))
                c.close()
                a.close()
            finally:
                self.assertEqual(d.stop(), 0)
                d.cleanup()

    def test_status_says_building_while_a_refit_runs(self):
        d = Daemon(PATROND, extra=["--set", "models.recs_rebuild_interval_s=0"], sync=False)
        gate = BuildGate(d)
        gate.start(d)
        try:
            a = Client(d.admin)
            # a fresh data directory: every model is built once at start, in the background
            first = a.call("model.status")["models"]
            self.assertTrue(first and all(m["status"] == "building" for m in first), first)
            for _ in first:
                gate.started()
                gate.release()
            c = Client(d.sock)
            for oid, cust, items in ORDERS:
                c.call("order.record", order(oid, cust, lines=[
                    {"product_id": p, "quantity": 1, "unit_price": 100} for p in items]))
            c.close()
            answer = gate.held_refit(d, ["recs"])
            st = {m["name"]: m["status"] for m in a.call("model.status")["models"]}
            self.assertEqual(st["recs"], "building")
            self.assertNotEqual(st["clv"], "building")
            gate.release()
            self.assertEqual(answer()["models"][0]["status"], "ready")
            st = {m["name"]: m["status"] for m in a.call("model.status")["models"]}
            self.assertEqual(st["recs"], "ready")
            a.close()
        finally:
            self.assertEqual(d.stop(), 0)
            d.cleanup()


class RepurchaseCycleTest(unittest.TestCase):
    """The customer's own repurchase cycle under the shipped EASE model (PROTOCOL.md): an item
    bought every 10 days gets + 0.03 x exp(-ln(r)^2 / 0.5), r = days since the last purchase
    / 10, judged at the request's as_of."""

    def test_due_item_boosted_at_as_of(self):
        d = Daemon(PATROND, extra=["--set", "models.recs_rebuild_interval_s=0"], sync=False).start()
        try:
            c, a = Client(d.sock), Client(d.admin)
            t0, day = 1700000000, 86400
            k = 0
            for n in range(3):  # r1 buys beans every 10 days, with a mug or a filter
                for cust, items in (("r1", ["beans", "mug"]), ("x%d" % n, ["beans", "filter"]),
                                    ("y%d" % n, ["mug", "filter", "spoon"])):
                    k += 1
                    c.call("order.record", order("o%d" % k, cust, ts=t0 + n * 10 * day + k, lines=[
                        {"product_id": p, "quantity": 1, "unit_price": 100} for p in items]))
            self.assertEqual(a.call("model.refit", {"models": ["recs"]})["models"][0]["status"],
                             "ready")
            last = t0 + 20 * day + 7  # r1's third order

            def beans(as_of):
                ans = c.call("recs.cart", {"items": ["spoon"], "customer_id": "r1",
                                           "limit": 10, "as_of": as_of})
                got = {x["product_id"]: x for x in ans["items"]}
                self.assertEqual(got["beans"]["reason"], "repurchase", ans)
                return got["beans"]["score"]

            cycle = (last - (t0 + 1)) / 2
            due = beans(int(last + cycle))             # r = 1: + 0.03
            late = beans(int(last + 40 * cycle))       # r = 40: + 0.03 x 2e-12
            half = beans(int(last + cycle / 2))        # r = 1/2: + 0.03 x 0.3825
            self.assertAlmostEqual(due - late, 0.03, places=5)
            self.assertAlmostEqual(half - late, 0.03 * math.exp(-math.log(2) ** 2 / 0.5), places=5)
            # without as_of the clock decides: years later, nothing is due
            now = c.call("recs.cart", {"items": ["spoon"], "customer_id": "r1", "limit": 10})
            self.assertAlmostEqual({x["product_id"]: x["score"] for x in now["items"]}["beans"],
                                   late, places=6)
            with self.assertRaises(RpcError) as cm:
                c.call("recs.cart", {"items": ["spoon"], "as_of": -1})
            self.assertEqual((cm.exception.code, cm.exception.field), ("invalid_params", "as_of"))
            c.close()
            a.close()
        finally:
            self.assertEqual(d.stop(), 0)
            d.cleanup()


if __name__ == "__main__":
    PATROND = sys.argv.pop(1)
    unittest.main(verbosity=2)

"""test_recs_budget.py -- the incremental recommendation update's budget
(models.recs_delta_pairs_per_s, daemon/model_recs.c) over the wire: an order within the
budget reaches recs.cart at once; orders past it (as in a bulk import) are skipped by the
incremental update, counted in model.status's reason, and folded in by one full rebuild
queued once they pause for a second -- or, with models.recs_rebuild_interval_s = 0, left for
model.refit. Either way no order is lost: after the rebuild recs.cart knows them.
usage: python3 test_recs_budget.py PATH/TO/patrond"""
import sys
import unittest

from patrontest import Client, Daemon, order, wait_until

PATROND = None
BUDGET = 1000  # pair updates a second: a 3-line order costs 6, a 40-line one 1560


def line(pid):
    return {"product_id": pid, "quantity": 1, "unit_price": 100}


def big_order(k):  # 40 products of its own: "big<k>-00" .. "big<k>-39", past the budget
    return order("big%d" % k, "c%d" % k, ts=1700000000 + k,
                 lines=[line("big%d-%02d" % (k, i)) for i in range(40)])


def recs_status(a):
    return {m["name"]: m for m in a.call("model.status")["models"]}["recs"]


def partner(c, item):
    ans = c.call("recs.cart", {"items": [item], "limit": 1})
    return ans["fallback"], [i["product_id"] for i in ans["items"]]


class BudgetTest(unittest.TestCase):
    def start(self, interval):
        d = Daemon(PATROND, extra=["--set", "models.recs_rebuild_interval_s=%d" % interval,
                                   "--set", "models.recs_delta_pairs_per_s=%d" % BUDGET],
                   sync=False).start()
        self.addCleanup(d.cleanup)
        c, a = Client(d.sock), Client(d.admin)
        self.addCleanup(c.close)
        self.addCleanup(a.close)
        # the start-up build of the empty store is over before anything is recorded
        wait_until(lambda: recs_status(a)["status"] != "building", what="start-up build")
        return d, c, a

    def test_small_order_at_once_big_ones_by_one_rebuild(self):
        d, c, a = self.start(3600)
        v0 = recs_status(a)["version"]
        c.call("order.record", order("small", "c9", lines=[line("tea"), line("mug"), line("jam")]))
        self.assertEqual(partner(c, "tea")[0], "none")  # in the delta before any rebuild
        for k in range(3):
            self.assertTrue(c.call("order.record", big_order(k))["created"])
        st = recs_status(a)
        self.assertEqual(st["version"], v0)
        self.assertIn("3 orders past the incremental budget", st["reason"])
        ans = c.call("recs.cart", {"items": ["big2-00"], "limit": 1})  # not incrementally
        self.assertEqual((ans["items"], ans["unknown_items"]), ([], 1), ans)
        # one rebuild folds them in once they pause (no fixed wait: the version moves)
        wait_until(lambda: recs_status(a)["version"] > v0 and recs_status(a)["status"] == "ready",
                   timeout=20, what="the rebuild after the skipped orders")
        st = recs_status(a)
        self.assertEqual(st["reason"], "")
        self.assertEqual(d.log_count("full rebuild to fold in 3 orders"), 1, d.read_log())
        fb, items = partner(c, "big2-00")
        self.assertEqual(fb, "none")
        self.assertTrue(items[0].startswith("big2-"), items)
        self.assertEqual(partner(c, "tea")[0], "none")

    def test_interval_zero_waits_for_refit(self):
        d, c, a = self.start(0)
        v0 = recs_status(a)["version"]
        for k in range(2):
            c.call("order.record", big_order(k))
        wait_until(lambda: "wait for model.refit" in recs_status(a)["reason"], timeout=20,
                   what="model.status saying the skipped orders wait for model.refit")
        self.assertIn("2 orders past the incremental budget", recs_status(a)["reason"])
        self.assertEqual(recs_status(a)["version"], v0)  # no automatic rebuild
        self.assertEqual(d.log_count("full rebuild to fold in"), 0)
        r = a.call("model.refit", {"models": ["recs"]})["models"][0]
        self.assertEqual((r["status"], r["reason"]), ("ready", ""))
        fb, items = partner(c, "big1-07")
        self.assertEqual(fb, "none")
        self.assertTrue(items[0].startswith("big1-"), items)


if __name__ == "__main__":
    PATROND = sys.argv.pop(1)
    unittest.main(verbosity=2)

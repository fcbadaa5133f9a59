"""demo_shop.py -- load a small demo shop into a running patrond through the real client
library (adapters/python/patron.py -> libpatronclient.so), then print real answers.
The shop is generated from a fixed seed: 48 products in 6 categories, 150 customers, about
600 orders over a year with realistic repeat behaviour, and a few refunds. A loyalty program
is set first (admin socket), so the orders earn points and customers reach tiers.
usage: python3 demo_shop.py SOCKET"""
import json
import time
import random
import sys
import os

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "adapters", "python"))
import patron  # noqa: E402

CATEGORIES = {
    "coffee": ["Espresso beans 1kg", "Filter roast 500g", "Decaf 250g", "Single origin Kenya",
               "Cold brew pack", "Moka blend", "Organic house blend", "Sample box"],
    "brewing": ["Pour-over cone", "French press", "Moka pot", "Gooseneck kettle",
                "Hand grinder", "Electric grinder", "Scale", "Paper filters x100"],
    "cups": ["Espresso cup", "Cappuccino cup", "Travel mug", "Glass mug", "Double-wall glass",
             "Latte bowl", "Cup set x4", "Saucer"],
    "tea": ["Green tea", "Earl grey", "Rooibos", "Chai mix", "Matcha 30g", "Teapot",
            "Tea infuser", "Herbal sampler"],
    "sweets": ["Dark chocolate", "Biscotti", "Caramel syrup", "Vanilla syrup", "Stroopwafels",
               "Almond cookies", "Honey jar", "Sugar cubes"],
    "gifts": ["Gift card 25", "Gift card 50", "Barista course", "Tasting set", "Tote bag",
              "Apron", "Coffee book", "Subscription month"],
}


def main(sock):
    rnd = random.Random(20261123)
    c = patron.Client(sock, timeout_ms=2000)
    products = []
    for cat, names in CATEGORIES.items():
        for i, name in enumerate(names):
            pid = "%s-%d" % (cat, i + 1)
            price = rnd.choice([290, 450, 690, 990, 1490, 1990, 2990, 4990, 8990])
            c.call("product.upsert", {"product_id": pid, "name": name, "category": cat,
                                      "price": price, "currency": "EUR",
                                      "stock": rnd.choice([0, 3, 12, 40, 100, -1]),
                                      "margin": price * rnd.randint(15, 45) // 100})
            products.append((pid, cat, price))
    # loyalty (admin): 1 point per EUR, coffee earns double, 100 points = 5 EUR off
    admin = patron.Client(os.path.join(os.path.dirname(sock), "admin.sock"), timeout_ms=60000)
    admin.call("loyalty.program.set", {
        "tiers": [{"name": "silver", "entry_threshold": 60, "discount_pct": 5},
                  {"name": "gold", "entry_threshold": 200, "discount_pct": 10,
                   "free_shipping": True, "earn_mult_bp": 15000, "labels": ["priority"]}],
        "earn": [{"currency": "EUR", "points": 1, "per_minor": 100}],
        "multipliers": [{"category": "coffee", "mult_bp": 20000}],
        "redeem": [{"currency": "EUR", "points": 100, "per_minor": 500}],
        "pending_days": 14, "redeem_min_points": 100})
    # customers: a few loyal regulars, many occasional, some one-off
    t0 = 1763856000 - 365 * 86400  # a year before 2025-11-23
    n_orders = 0
    for k in range(150):
        cid = "cust-%03d" % k
        if k % 3 == 0:
            c.call("customer.upsert", {"customer_id": cid, "email": "%s@demo.example" % cid,
                                       "name": "Demo customer %d" % k, "created_at": t0})
        kind = rnd.random()
        visits = 1 if kind < 0.35 else rnd.randint(2, 4) if kind < 0.8 else rnd.randint(5, 14)
        fav = rnd.choice(list(CATEGORIES))
        ts = t0 + rnd.randint(0, 200) * 86400
        for v in range(visits):
            lines = {}
            for _ in range(rnd.randint(1, 4)):
                pid, cat, price = rnd.choice([p for p in products if p[1] == fav]
                                             if rnd.random() < 0.6 else products)
                lines[pid] = (lines.get(pid, (0, price))[0] + 1, price)
            oid = "ord-%05d" % n_orders
            c.call("order.record", {"order_id": oid, "customer_id": cid, "ts": ts,
                                    "currency": "EUR", "shipping": 495,
                                    "lines": [{"product_id": p, "quantity": q, "unit_price": pr}
                                              for p, (q, pr) in sorted(lines.items())]})
            if rnd.random() < 0.04:
                c.call("order.refund", {"refund_id": "ref-%05d" % n_orders, "order_id": oid,
                                        "amount": 495})
            n_orders += 1
            ts += rnd.randint(7, 60) * 86400
            if ts > t0 + 365 * 86400:
                break
    print("loaded %d products, 150 customers, %d orders through libpatronclient\n"
          % (len(products), n_orders))

    def show(title, method, params=None):
        print("$ patronctl call %s '%s'   # %s" % (method, json.dumps(params or {}), title))
        print(json.dumps(c.call(method, params), indent=2))
        print()

    # build the models now (they are also built on a schedule): CLV + segments, recommendations
    built = admin.call("model.refit", {"as_of": t0 + 365 * 86400})
    print("$ patronctl -s admin.sock call model.refit   # built: %s\n" % ", ".join(
        "%s %s (%d ms)" % (m["name"], m["status"], m["took_ms"]) for m in built["models"]))
    # a personalized offer (issue 9): 10% off carts of 20 EUR or more, 20% of customers held
    # out so experiments.report can measure what it adds
    admin.call("offers.set", {"id": "welcome-back-10", "kind": "percent_off", "value": 10,
                              "currency": "EUR", "rule": {"cart_value": {"$gte": 2000}},
                              "budget": {"money": 50000, "redemptions": 200},
                              "caps": {"redeemed": 1}, "experiment": {"holdout": 0.2}})
    admin.call("offers.reload")  # answers once the rebuilt catalogue is served
    print("$ patronctl -s admin.sock call offers.set '{\"id\": \"welcome-back-10\", ...}'\n")
    admin.close()

    show("a regular's profile, with CLV, churn risk and segment", "customer.get",
         {"customer_id": "cust-000"})
    show("silver members (loyalty)", "loyalty.members", {"tier": "silver", "limit": 5})
    member = c.call("loyalty.members", {"tier": "silver", "limit": 1})["customer_ids"][0]
    show("a silver member's tier, benefits and what is missing for gold", "loyalty.tier",
         {"customer_id": member})
    show("their points: balance, pending, latest entries", "loyalty.points",
         {"customer_id": member, "limit": 2})
    show("what a cart would earn and the tier it reaches (nothing written)", "loyalty.preview",
         {"customer_id": member, "currency": "EUR",
          "lines": [{"product_id": "coffee-1", "quantity": 4, "unit_price": 2990}]})
    show("redeem 100 points at checkout", "loyalty.redeem",
         {"customer_id": member, "points": 100, "redemption_id": "demo-red-1",
          "currency": "EUR", "cart_ref": "cart-42"})
    show("cross-sell for a cart", "recs.cart",
         {"items": ["coffee-1", "brewing-3"], "customer_id": "cust-003", "limit": 5})
    show("upsell for a product", "recs.upsell", {"product_id": "brewing-1", "limit": 3})
    show("personal picks", "recs.for_customer", {"customer_id": "cust-009", "limit": 5})
    cart = {"currency": "EUR", "lines": [{"product_id": "brewing-3", "category": "brewing",
                                          "quantity": 1, "unit_price": 2990}]}
    for k in range(150):  # the first customer in the treatment arm (the holdout sees nothing)
        cid = "cust-%03d" % k
        shown = [o for o in c.call("offers.decide", {"customer_id": cid, "cart": cart})["offers"]
                 if not o["held_out"]]
        if shown:
            break
    show("which offer should this customer see at the cart?", "offers.decide",
         {"customer_id": cid, "cart": cart})
    show("the shop applies it at checkout: the signed token is redeemed once", "offers.redeem",
         {"token": shown[0]["token"], "customer_id": cid, "cart": cart,
          "idempotency_key": "checkout-" + cid})
    # the rest of the customers come to the cart too (each decision records an exposure, held
    # out or shown), and a third of them order: experiments.report measures the offer
    # against its holdout
    now = int(time.time())
    for k in range(150):
        cid = "cust-%03d" % k
        c.call("offers.decide", {"customer_id": cid, "cart": cart})
        if k % 3 == 0:
            c.call("order.record", {"order_id": "demo-cart-%03d" % k, "customer_id": cid,
                                    "ts": now, "currency": "EUR",
                                    "lines": [{"product_id": "brewing-3", "quantity": 1,
                                               "unit_price": 2990}]})
    show("the offer's experiment: exposures, conversions and uplift against its holdout",
         "experiments.report", {"offer_id": "welcome-back-10"})
    show("any shop experiment, bucketed exactly as GrowthBook's SDKs do", "experiments.assign",
         {"key": "new-checkout", "id": "cust-007", "weights": [0.5, 0.5], "coverage": 1.0})
    show("customers per segment", "segment.list")
    show("an order with its refunds", "order.get", {"order_id": "ord-00003"})
    show("a product", "product.get", {"product_id": "coffee-1"})
    s = c.call("stats")
    print("$ patronctl stats   # (excerpt)")
    print(json.dumps({"counts": s["counts"], "writes": s["writes"],
                      "requests": {"total": s["requests"]["total"]}}, indent=2))
    try:
        c.call("order.record", {"order_id": "ord-bad", "customer_id": "cust-001", "ts": t0,
                                "currency": "EURO", "lines": [{"product_id": "coffee-1",
                                                               "quantity": 1, "unit_price": 990}]})
    except patron.PatronError as e:
        print("\nbad input is refused with a structured error: code=%s field=%s message=%r"
              % (e.code, e.field, e.message))
    c.close()


if __name__ == "__main__":
    main(sys.argv[1])

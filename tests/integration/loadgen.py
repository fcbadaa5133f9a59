"""loadgen.py -- write load for the durability tests (kill -9, injected I/O faults, disk
full): threads that pipeline order.record with unique ids on their own connection and keep
what happened to each order, plus pipelined reads to check the outcome afterwards.
Invariant: an order id is in `acked` only if the daemon answered it without error; every id
ever sent is in `sent` (with the exact params), so "present implies sent" can be checked."""
import threading

import patrontest as pt


class Writer(threading.Thread):
    """Pipelines `window` order.record requests at a time until stop is set or the
    connection dies. Waiters on `changed` (a threading.Condition) are woken after every
    batch of replies."""

    def __init__(self, sock, prefix, changed, window=16, customers=5, stop=None, batches=None):
        super().__init__(daemon=True)
        self.batches = batches  # None = until stopped
        self.sock, self.prefix, self.changed = sock, prefix, changed
        self.window, self.customers = window, customers
        self.stop = stop or threading.Event()
        self.acked, self.sent, self.errors = [], {}, []
        self.n = 0

    def order(self, n):
        lines = [{"product_id": "p%d" % (n % 7), "quantity": 1 + n % 3, "unit_price": 100 + n}]
        return pt.order("%s-%d" % (self.prefix, n), cust="%s-c%d" % (self.prefix, n % self.customers),
                        ts=1700000000 + n, lines=lines)

    def run(self):
        try:
            c = pt.Client(self.sock, timeout=30)
        except OSError:
            return
        try:
            done = 0
            while not self.stop.is_set() and (self.batches is None or done < self.batches):
                done += 1
                batch, ids = [], {}
                for _ in range(self.window):
                    o = self.order(self.n)
                    self.n += 1
                    msgid, data = c.request_bytes("order.record", o)
                    ids[msgid] = o
                    self.sent[o["order_id"]] = o
                    batch.append(data)
                c.send_raw(b"".join(batch))
                for msgid, o in ids.items():
                    r = c.read_reply(msgid)
                    if r[2] is None:
                        self.acked.append(o["order_id"])
                    else:
                        self.errors.append((o["order_id"], r[2]))
                with self.changed:
                    self.changed.notify_all()
        except (OSError, EOFError):
            pass  # the daemon went away
        finally:
            c.close()
            with self.changed:
                self.changed.notify_all()


def wait_for(changed, predicate, timeout, what):
    """Block on the condition until predicate() holds (an event, not a fixed sleep)."""
    with changed:
        if not changed.wait_for(predicate, timeout):
            raise AssertionError("timed out after %d s waiting for %s" % (timeout, what))


def get_many(c, method, key, ids):
    """Pipelined gets: {id: result, or None when not_found}; any other error raises."""
    out, ids = {}, list(ids)
    for i in range(0, len(ids), 256):
        chunk = ids[i:i + 256]
        reqs = [c.request_bytes(method, {key: x}) for x in chunk]
        c.send_raw(b"".join(d for _, d in reqs))
        for x, (msgid, _) in zip(chunk, reqs):
            r = c.read_reply(msgid)
            if r[2] is None:
                out[x] = r[3]
            elif r[2]["code"] == "not_found":
                out[x] = None
            else:
                raise AssertionError("%s %s: %r" % (method, x, r[2]))
    return out


def same_order(sent, got):
    return got is not None and all(got.get(k) == v for k, v in sent.items())


def check_acked(c, orders):
    """Every order in {id: params} reads back exactly as sent: [] or the ids that do not."""
    got = get_many(c, "order.get", "order_id", orders)
    return [oid for oid, g in got.items() if not same_order(orders[oid], g)]

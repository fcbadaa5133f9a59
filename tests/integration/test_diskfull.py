#!/usr/bin/python3
"""test_diskfull.py -- disk full under a real patrond (issue 12).

The data directory is a tmpfs of 8 MiB (needs root: CI runs as root; otherwise, or when the
mount is not permitted, exits 77 = skipped). A filler file leaves about 1 MiB free, then a
writer pipelines order.record until the disk is full. Checked:
  - the writes that do not fit are answered `unavailable` (never another code, never a
    false acknowledgement) with a message saying the disk is full (the map, 64 MiB, is larger
    than the tmpfs, so the disk always fills first);
  - while the last write failed, health is `degraded` with that reason;
  - reads are still served while the disk is full;
  - once the filler is removed, writes are acknowledged again;
  - after a restart every acknowledged order is there exactly as sent.
  - health is `ok` again once space is freed and a write commits.
usage: test_diskfull.py PATROND"""
import os
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import patrontest as pt  # noqa: E402
from loadgen import Writer, check_acked, wait_for  # noqa: E402


def skip(why):
    print("skipped: " + why)
    sys.exit(77)


def fill(path, leave):
    """Write a filler file until only `leave` bytes are free (ENOSPC ends it early)."""
    st = os.statvfs(os.path.dirname(path))
    free = st.f_bavail * st.f_frsize
    try:
        with open(path, "wb") as f:
            f.write(b"\0" * max(0, free - leave))
    except OSError:
        pass


def probe_order(n):
    """An order of 50 lines: big enough not to fit in the pages LMDB frees inside its file."""
    return pt.order("probe-%d" % n, lines=[{"product_id": "p%d" % i, "quantity": 1,
                                             "unit_price": 100} for i in range(50)])


def main():
    if os.geteuid() != 0:
        skip("needs root to mount a small tmpfs (CI runs as root)")
    mnt = tempfile.mkdtemp(prefix="patron-diskfull-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", mnt],
                       capture_output=True, text=True)
    if r.returncode != 0:
        os.rmdir(mnt)
        skip("cannot mount a tmpfs here: " + r.stderr.strip())
    data = os.path.join(mnt, "data")
    d = pt.Daemon(sys.argv[1], data_dir=data, extra=["--set", "store.map_size_mb=64"])
    try:
        d.start()
        c = pt.Client(d.sock)
        assert c.call("order.record", pt.order("before-full"))["created"]
        filler = os.path.join(mnt, "filler")
        fill(filler, 1 << 20)

        changed = threading.Condition()
        w = Writer(d.sock, "full", changed, window=16)
        w.start()
        wait_for(changed, lambda: len(w.errors) >= 16 or not w.is_alive(), 120,
                 "the disk to fill up")
        assert w.is_alive(), "the writer's connection died: " + d.read_log()[-2000:]
        w.stop.set()
        w.join(30)
        assert w.acked, "nothing was acknowledged before the disk was full"
        bad = [e for _, e in w.errors if e.get("code") != "unavailable"]
        assert not bad, "a write on a full disk answered other than unavailable: %r" % bad[:3]
        full_msg = w.errors[0][1].get("message")
        assert all("disk full" in e.get("message", "") for _, e in w.errors), w.errors[:3]
        # reads are served while the disk is full
        got = c.call("order.get", {"order_id": w.acked[0]})
        assert got["order_id"] == w.acked[0], got
        assert c.call("customer.get", {"customer_id": "c1"})["order_count"] == 1
        # a single small write may still fit (LMDB reuses the pages freed inside its file), and
        # a commit makes health ok again: write until one fails, then ask (nothing else writes)
        for n in range(1000):
            r = c.call_raw("order.record", probe_order(n))
            if r[2] is not None:
                break
        else:
            raise AssertionError("1000 writes fit on a full disk")
        assert r[2]["code"] == "unavailable" and "disk full" in r[2]["message"], r[2]
        health = c.call("health")
        assert health["status"] == "degraded" and not health["ok"], health
        assert "disk full" in health.get("reason", ""), health

        # space freed: writes are acknowledged again, without a restart
        os.unlink(filler)
        w2 = Writer(d.sock, "freed", changed, window=16, batches=8)  # batches that failed before
        w2.start()
        w2.join(60)
        assert len(w2.acked) == 8 * 16 and not w2.errors, (len(w2.acked), w2.errors[:3])
        assert c.call("order.record", pt.order("after-free"))["created"]
        healed = c.call("health")
        assert healed["status"] == "ok" and healed["ok"] and "reason" not in healed, healed
        c.close()
        d.stop()
        d.start()
        c = pt.Client(d.sock)
        acked = {oid: w.sent[oid] for oid in w.acked}
        acked["before-full"] = pt.order("before-full")
        acked["after-free"] = pt.order("after-free")
        acked.update({oid: w2.sent[oid] for oid in w2.acked})
        # the probes before the failing one were acknowledged
        acked.update({"probe-%d" % i: probe_order(i) for i in range(n)})
        lost = check_acked(c, acked)
        assert not lost, "acknowledged orders lost after disk full: %s" % lost[:10]
        c.close()
        d.stop()
        print("diskfull: %d orders acknowledged, %d answered unavailable while full (message %r; "
              "health while full %r), reads served, writes resumed after freeing space, 0 lost"
              % (len(acked), len(w.errors), full_msg, health))
    except Exception:
        print("daemon log:\n" + d.read_log()[-4000:], file=sys.stderr)
        raise
    finally:
        d.cleanup()
        subprocess.run(["umount", mnt], check=False)
        os.rmdir(mnt)


if __name__ == "__main__":
    main()

"""patron.py -- Python adapter for patrond through libpatronclient (ctypes, stdlib only).

Owns: loading the shared library, turning its JSON convenience call into Python values and
exceptions, the fail-open policy shared by all adapters (circuit breaker per socket path,
per-page time budget, typed helpers with fallbacks) and the asyncio API (AsyncClient).
Invariants: the wire protocol, per-call deadlines and reconnects live in the C library;
every failure that is not the caller's bad input (library missing, socket missing or
refused, timeout, daemon restarting, circuit open, budget spent) raises PatronUnavailable,
and typed helpers turn it into their documented fallback. Bad input raises PatronError
with status E_INVALID (nothing sent); remote errors keep the daemon's code and field.

Usage:
    import patron
    c = patron.Client(timeout_ms=150)
    page = patron.Budget(300)                      # one budget for the whole page
    items = c.recs_cart(["mug-1"], budget=page)    # [] when Patron is down
    try:
        profile = c.call("customer.get", {"customer_id": "c-42"}, budget=page)
    except patron.PatronUnavailable:
        profile = None                              # fail open

The library is $PATRON_CLIENT_LIB, else the loader's libpatronclient.so.0; the socket is
$PATRON_SOCKET, else /run/patron/patron.sock. A daemon on another host is reached over its TLS
listener: Client("tls://patron.internal:7443", tls={"cert": "shop.crt", "key": "shop.key",
"ca": "patron-ca.crt"}) (client certificate required; see docs/OPERATIONS.md). A Client is for one thread at a time (one per
thread, or a lock); AsyncClient runs calls on its own small thread pool, one handle per
thread, so concurrent awaits never queue behind each other and never use the loop's default
executor. JSON numbers: ints stay ints, floats stay floats.
"""

import asyncio
import concurrent.futures
import ctypes
import json
import os
import threading
import time

__all__ = ["Client", "AsyncClient", "Budget", "Breaker", "PatronError", "PatronUnavailable",
           "load_library", "DEFAULT_SOCKET", "UNKNOWN_TIER", "offers_params"]

DEFAULT_SOCKET = "/run/patron/patron.sock"
DEFAULT_LIBRARY = "libpatronclient.so.0"
DEFAULT_TIMEOUT_MS = 1000

# patron_status_t (patronclient.h)
OK = 0
E_REMOTE = -1
E_UNAVAILABLE = -2
E_INVALID = -3
E_PROTOCOL = -4
E_TOO_LARGE = -5
E_NOMEM = -6

_lib = None
_lib_lock = threading.Lock()


class PatronError(Exception):
    """An error from patrond or the client library.

    code: stable string ("invalid_params", "not_found", "unavailable", "timeout",
    "circuit_open", "budget_exhausted", ...); message: human text; field: offending param
    or None; status: the library status (patronclient.h); unavailable: fail-open flag."""

    def __init__(self, code, message, field=None, status=E_REMOTE):
        self.code = code
        self.message = message
        self.field = field
        self.status = status
        super().__init__("%s: %s%s" % (code, message, " (field %s)" % field if field else ""))

    @property
    def unavailable(self):
        return self.status == E_UNAVAILABLE


class PatronUnavailable(PatronError):
    """Patron cannot answer now (absent, dead, slow, circuit open, budget spent): fail open."""

    def __init__(self, code, message, field=None, status=E_UNAVAILABLE):
        super().__init__(code, message, field, E_UNAVAILABLE)


def _now_ms():
    return time.monotonic() * 1000.0


class Budget:
    """Time budget shared by all calls of one page: each call's timeout is cut to what is
    left; once spent, calls raise PatronUnavailable("budget_exhausted") without waiting."""

    def __init__(self, ms):
        self.deadline_ms = _now_ms() + ms

    def remaining_ms(self):
        return max(0, int(self.deadline_ms - _now_ms()))


class Breaker:
    """Circuit breaker for one socket path, shared by the Clients of a process.

    Closed: calls go through; `failures` consecutive unavailable results open it, and so
    does one full timeout (a hung daemon costs one timeout, not one per call). Open: calls
    raise PatronUnavailable("circuit_open") at once for `cooldown_ms`. Then the next call is
    the single probe (others still fail at once): success closes, failure reopens."""

    def __init__(self, failures=3, cooldown_ms=5000):
        self.failures = max(1, int(failures))
        self.cooldown_ms = max(0, int(cooldown_ms))
        self._lock = threading.Lock()
        self._fails = 0
        self._open_until = None  # monotonic ms; None = closed
        self._probing = False

    @property
    def state(self):
        with self._lock:
            if self._open_until is None:
                return "closed"
            return "half_open" if self._probing or _now_ms() >= self._open_until else "open"

    def admit(self):
        """Raise PatronUnavailable if the call may not go out now."""
        with self._lock:
            if self._open_until is None:
                return
            if self._probing or _now_ms() < self._open_until:
                raise PatronUnavailable("circuit_open", "Patron circuit open after repeated "
                                        "failures; retried after the cool-down")
            self._probing = True

    def record(self, reached, timed_out=False):
        """reached: the daemon answered (even with an error). timed_out: a full timeout."""
        with self._lock:
            if reached:
                self._fails = 0
                self._open_until = None
            else:
                self._fails += 1
                if self._probing or timed_out or self._fails >= self.failures:
                    self._open_until = _now_ms() + self.cooldown_ms
            self._probing = False


_breakers = {}
_breakers_lock = threading.Lock()


def breaker_for(socket_path):
    """The process-wide breaker of a socket path (created with the defaults)."""
    with _breakers_lock:
        b = _breakers.get(socket_path)
        if b is None:
            b = _breakers[socket_path] = Breaker()
        return b


class _CError(ctypes.Structure):
    """patron_error_t (patronclient.h)."""
    _fields_ = [("status", ctypes.c_int), ("code", ctypes.c_char * 32),
                ("message", ctypes.c_char * 256), ("field", ctypes.c_char * 128)]


def load_library(path=None):
    """Load (once) and return the ctypes handle of libpatronclient (OSError if missing)."""
    global _lib
    with _lib_lock:
        if _lib is not None and path is None:
            return _lib
        lib = ctypes.CDLL(path or os.environ.get("PATRON_CLIENT_LIB") or DEFAULT_LIBRARY)
        lib.patron_open.argtypes = [ctypes.c_char_p, ctypes.c_int]
        lib.patron_open.restype = ctypes.c_void_p
        lib.patron_close.argtypes = [ctypes.c_void_p]
        lib.patron_close.restype = None
        lib.patron_call_json.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                         ctypes.POINTER(ctypes.c_int)]
        lib.patron_call_json.restype = ctypes.c_void_p  # freed with patron_free
        lib.patron_set_timeout.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.patron_set_timeout.restype = ctypes.c_int
        lib.patron_free.argtypes = [ctypes.c_void_p]
        lib.patron_free.restype = None
        lib.patron_version.argtypes = []
        lib.patron_version.restype = ctypes.c_char_p
        if hasattr(lib, "patron_set_tls"):  # libpatronclient >= 0.1 with TLS
            lib.patron_set_tls.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                           ctypes.c_char_p, ctypes.POINTER(_CError)]
            lib.patron_set_tls.restype = ctypes.c_int
        if path is None:
            _lib = lib
        return lib


class _Base:
    """What Client and AsyncClient share: settings, validation, breaker and budget rules."""

    def __init__(self, socket_path, timeout_ms, library, breaker, tls=None):
        self.socket_path = socket_path or os.environ.get("PATRON_SOCKET") or DEFAULT_SOCKET
        is_tls = self.socket_path.startswith("tls://")
        if len(self.socket_path.encode()) >= (300 if is_tls else 108):
            raise ValueError("invalid socket path (too long): %r" % self.socket_path)
        if tls is not None and (not is_tls or not isinstance(tls, dict) or
                                set(tls) - {"cert", "key", "ca"}):
            raise ValueError("tls={'cert': ..., 'key': ..., 'ca': ...} goes with a "
                             "tls://host:port address")
        self.tls = tls
        self.timeout_ms = int(timeout_ms) if timeout_ms and timeout_ms > 0 else DEFAULT_TIMEOUT_MS
        self.breaker = breaker if breaker is not None else breaker_for(self.socket_path)
        self._closed = False
        self._lib = None
        self._load_error = None
        try:
            self._lib = load_library(library)
        except OSError as e:  # a setup mistake must not break the page: fail open per call
            self._load_error = str(e)

    def _prepare(self, method, params):
        if self._closed:
            raise PatronError("invalid_request", "client is closed", status=E_INVALID)
        if not isinstance(method, str) or not method:
            raise PatronError("invalid_request", "method must be a non-empty string",
                              status=E_INVALID)
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise PatronError("invalid_params", "params must be a dict", status=E_INVALID)
        try:
            return json.dumps(params, ensure_ascii=False, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as e:
            raise PatronError("invalid_params", "params not JSON-encodable: %s" % e,
                              status=E_INVALID)

    def _timeout(self, timeout_ms, budget):
        """(effective timeout ms, clipped by the budget?) or raise budget_exhausted."""
        t = int(timeout_ms) if timeout_ms is not None and timeout_ms > 0 else self.timeout_ms
        if budget is None:
            return t, False
        left = budget.remaining_ms()
        if left <= 0:
            raise PatronUnavailable("budget_exhausted", "the page's Patron time budget is spent")
        return (left, True) if left < t else (t, False)

    def _invoke(self, handle, method, body, timeout_ms, clipped):
        """One library call on handle, with the breaker's bookkeeping."""
        if self._load_error is not None:
            self.breaker.record(False)
            raise PatronUnavailable("unavailable", "libpatronclient could not be loaded: "
                                    + self._load_error)
        reached = False
        timed_out = False
        try:
            value, status = self._raw(handle, method, body, timeout_ms)
            if status == E_UNAVAILABLE:
                timed_out = value.get("code") == "timeout" and not clipped
            else:
                reached = True
        except BaseException:
            self.breaker.record(True)  # not a reachability failure: clear a probe
            raise
        self.breaker.record(reached, timed_out)
        if status == OK:
            return value
        cls = PatronUnavailable if status == E_UNAVAILABLE else PatronError
        raise cls(value.get("code", "internal"), value.get("message", ""), value.get("field"),
                  status)

    def _raw(self, handle, method, body, timeout_ms):
        lib = self._lib
        lib.patron_set_timeout(handle, timeout_ms)
        status = ctypes.c_int(0)
        p = lib.patron_call_json(handle, method.encode("utf-8"), body, ctypes.byref(status))
        if not p:
            raise PatronError("nomem", "out of memory", status=E_NOMEM)
        try:
            text = ctypes.string_at(p).decode("utf-8")
        finally:
            lib.patron_free(p)
        return json.loads(text), status.value

    def _open_handle(self):
        if self._lib is None:
            return None
        h = self._lib.patron_open(self.socket_path.encode(), self.timeout_ms)
        if not h:
            raise MemoryError("patron_open failed")
        if self.tls is not None:
            if not hasattr(self._lib, "patron_set_tls"):
                self._lib.patron_close(h)
                raise PatronError("invalid_request", "this libpatronclient has no TLS",
                                  status=E_INVALID)
            err = _CError()
            enc = [self.tls.get(k).encode() if self.tls.get(k) else None
                   for k in ("cert", "key", "ca")]
            if self._lib.patron_set_tls(h, enc[0], enc[1], enc[2], ctypes.byref(err)) != OK:
                self._lib.patron_close(h)
                raise PatronError(err.code.decode() or "invalid_params",
                                  err.message.decode(errors="replace"),
                                  err.field.decode() or None, err.status)
        return h

    @property
    def library_version(self):
        return self._lib.patron_version().decode() if self._lib else None


# Typed helpers: method, params builder, result -> value, fallback.
def _recs_params(items=None, product_id=None, customer_id=None, limit=None, filters=None):
    p = {}
    if items is not None:
        p["items"] = list(items)
    if product_id is not None:
        p["product_id"] = product_id
    if customer_id is not None:
        p["customer_id"] = customer_id
    if limit is not None:
        p["limit"] = limit
    if filters:
        p["filters"] = filters
    return p


def _items(r):
    return list(r.get("items") or []) if isinstance(r, dict) else []


# offers.* wire names, in ONE place. Callers pass the protocol's usual names: {customer_id,
# cart: {currency, value?, lines: [{product_id, category?, quantity, unit_price}]}}; this
# patrond's offers methods still read {customer, cart: {items: [{product, price}]}} (issue 9);
# once they take the usual names, this becomes the identity map.
OFFERS_WIRE = {"customer_id": "customer_id", "lines": "lines", "product_id": "product_id",
               "unit_price": "unit_price"}


def offers_params(customer_id, cart, **more):
    """offers.decide / offers.redeem params from the protocol's names (see OFFERS_WIRE)."""
    w = OFFERS_WIRE
    c = {k: v for k, v in (cart or {}).items() if k != "lines"}
    c[w["lines"]] = [{w.get(k, k): v for k, v in line.items()} for line in (cart or {}).get("lines", [])]
    p = {w["customer_id"]: customer_id, "cart": c}
    p.update(more)
    return p


def _first_offer(r):
    """The first offer to show: held-out entries (the control arm) show nothing."""
    offers = r.get("offers") if isinstance(r, dict) else None
    return next((o for o in offers or [] if not o.get("held_out")), None)


def _balance(r):
    b = r.get("balance") if isinstance(r, dict) else None
    return b if isinstance(b, int) else None


def _tier_name(r):
    t = r.get("tier") if isinstance(r, dict) else None
    if isinstance(t, dict):
        t = t.get("name")
    return t if isinstance(t, str) and t else UNKNOWN_TIER


UNKNOWN_TIER = "unknown"
# Errors a typed helper turns into its fallback besides PatronUnavailable: a daemon that
# does not have the feature (older version, feature off) is not the caller's mistake.
_FALLBACK_CODES = ("unknown_method",)


class Client(_Base):
    """Blocking client: one handle, connects lazily, reconnects after failures."""

    def __init__(self, socket_path=None, timeout_ms=DEFAULT_TIMEOUT_MS, library=None,
                 breaker=None, tls=None):
        super().__init__(socket_path, timeout_ms, library, breaker, tls)
        self._h = self._open_handle()

    def call(self, method, params=None, timeout_ms=None, budget=None):
        """Call method with params (a dict, default {}); return the decoded result."""
        body = self._prepare(method, params)
        t, clipped = self._timeout(timeout_ms, budget)
        self.breaker.admit()
        return self._invoke(self._h, method, body, t, clipped)

    def ping(self):
        return self.call("ping")

    def _typed(self, method, params, pick, fallback, timeout_ms, budget):
        try:
            return pick(self.call(method, params, timeout_ms, budget))
        except PatronError as e:
            if e.unavailable or e.code in _FALLBACK_CODES:
                return fallback
            raise

    def recs_cart(self, items, customer_id=None, limit=None, filters=None, timeout_ms=None,
                  budget=None):
        """recs.cart items ([{product_id, score, reason}]); [] when Patron is unavailable."""
        return self._typed("recs.cart", _recs_params(items, None, customer_id, limit, filters),
                           _items, [], timeout_ms, budget)

    def recs_upsell(self, product_id, limit=None, filters=None, timeout_ms=None, budget=None):
        """recs.upsell items; [] when Patron is unavailable."""
        return self._typed("recs.upsell", _recs_params(None, product_id, None, limit, filters),
                           _items, [], timeout_ms, budget)

    def offer(self, customer_id, cart, timeout_ms=None, budget=None):
        """The best shown offer of offers.decide ({offer_id, discount, currency, token, ...}),
        or None (no offer, held out, or Patron unavailable). cart: {currency, lines:
        [{product_id, quantity, unit_price, category?}], value?}."""
        return self._typed("offers.decide", offers_params(customer_id, cart), _first_offer,
                           None, timeout_ms, budget)

    def redeem_offer(self, customer_id, token, cart, idempotency_key, timeout_ms=None,
                     budget=None):
        """offers.redeem of a decided offer's token (a write: raises, no fallback)."""
        return self.call("offers.redeem", offers_params(customer_id, cart, token=token,
                         idempotency_key=idempotency_key), timeout_ms, budget)

    def tier(self, customer_id, timeout_ms=None, budget=None):
        """The customer's loyalty tier name, or "unknown"."""
        return self._typed("loyalty.tier", {"customer_id": customer_id}, _tier_name,
                           UNKNOWN_TIER, timeout_ms, budget)

    def points(self, customer_id, timeout_ms=None, budget=None):
        """The customer's spendable points (0 for a non-member), or None when unknown."""
        return self._typed("loyalty.points", {"customer_id": customer_id, "limit": 0},
                           _balance, None, timeout_ms, budget)

    def close(self):
        if not self._closed:
            self._closed = True
            if self._h:
                self._lib.patron_close(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class AsyncClient(_Base):
    """asyncio client: `await c.call(...)`. Calls run on a private pool of `concurrency`
    threads, each with its own library handle, so concurrent calls proceed in parallel; the
    timeout (and budget) counts from the call, including any wait for a free thread."""

    def __init__(self, socket_path=None, timeout_ms=DEFAULT_TIMEOUT_MS, library=None,
                 breaker=None, concurrency=8, tls=None):
        super().__init__(socket_path, timeout_ms, library, breaker, tls)
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, concurrency),
                                                           thread_name_prefix="patron")
        self._local = threading.local()
        self._handles = []
        self._handles_lock = threading.Lock()

    def _thread_handle(self):
        h = getattr(self._local, "h", None)
        if h is None and self._lib is not None:
            h = self._local.h = self._open_handle()
            with self._handles_lock:
                self._handles.append(h)
        return h

    def _run(self, method, body, deadline_ms, clipped):
        left = int(deadline_ms - _now_ms())
        if left <= 0:  # waited for a thread past the deadline
            self.breaker.record(True)  # nothing learnt about the daemon; clear a probe
            raise PatronUnavailable("timeout", "no answer within the timeout")
        return self._invoke(self._thread_handle(), method, body, left, clipped)

    async def call(self, method, params=None, timeout_ms=None, budget=None):
        body = self._prepare(method, params)
        t, clipped = self._timeout(timeout_ms, budget)
        self.breaker.admit()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._run, method, body, _now_ms() + t,
                                          clipped)

    async def ping(self):
        return await self.call("ping")

    async def _typed(self, method, params, pick, fallback, timeout_ms, budget):
        try:
            return pick(await self.call(method, params, timeout_ms, budget))
        except PatronError as e:
            if e.unavailable or e.code in _FALLBACK_CODES:
                return fallback
            raise

    async def recs_cart(self, items, customer_id=None, limit=None, filters=None,
                        timeout_ms=None, budget=None):
        return await self._typed("recs.cart", _recs_params(items, None, customer_id, limit,
                                                           filters), _items, [], timeout_ms, budget)

    async def recs_upsell(self, product_id, limit=None, filters=None, timeout_ms=None,
                          budget=None):
        return await self._typed("recs.upsell", _recs_params(None, product_id, None, limit,
                                                             filters), _items, [], timeout_ms, budget)

    async def offer(self, customer_id, cart, timeout_ms=None, budget=None):
        return await self._typed("offers.decide", offers_params(customer_id, cart),
                                 _first_offer, None, timeout_ms, budget)

    async def redeem_offer(self, customer_id, token, cart, idempotency_key, timeout_ms=None,
                           budget=None):
        return await self.call("offers.redeem", offers_params(
            customer_id, cart, token=token, idempotency_key=idempotency_key), timeout_ms, budget)

    async def tier(self, customer_id, timeout_ms=None, budget=None):
        return await self._typed("loyalty.tier", {"customer_id": customer_id}, _tier_name,
                                 UNKNOWN_TIER, timeout_ms, budget)

    async def points(self, customer_id, timeout_ms=None, budget=None):
        return await self._typed("loyalty.points", {"customer_id": customer_id, "limit": 0},
                                 _balance, None, timeout_ms, budget)

    async def close(self):
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(None, self._pool.shutdown, True)
        with self._handles_lock:
            for h in self._handles:
                self._lib.patron_close(h)
            self._handles = []

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

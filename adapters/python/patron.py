"""patron.py -- Python adapter for patrond through libpatronclient (ctypes, stdlib only).

Owns: loading the shared library and turning its JSON convenience call into Python values
and exceptions. Invariants: the protocol, timeouts and reconnects live in the C library
(this file adds none of its own); every failure is a PatronError carrying code, message,
field and the library status; a daemon that is absent, dead or too slow raises
PatronUnavailable (error.unavailable is True) within the timeout so callers can fail open.

Usage:
    import patron
    with patron.Client(timeout_ms=150) as c:
        try:
            profile = c.call("customer.get", {"customer_id": "c-42"})
        except patron.PatronUnavailable:
            profile = None           # fail open: render the page without it
        except patron.PatronError as e:
            log(e.code, e.message, e.field)

The library is found via $PATRON_CLIENT_LIB, else the dynamic loader's search for
libpatronclient.so.0. The socket is $PATRON_SOCKET, else /run/patron/patron.sock.
A Client is not safe for concurrent use from several threads (one handle per thread, or a
lock); distinct Clients are independent. JSON numbers: ints stay ints, floats stay floats.
"""

import ctypes
import json
import os
import threading

__all__ = ["Client", "PatronError", "PatronUnavailable", "load_library", "DEFAULT_SOCKET"]

DEFAULT_SOCKET = "/run/patron/patron.sock"
DEFAULT_LIBRARY = "libpatronclient.so.0"

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

    code: stable string ("invalid_params", "not_found", "conflict", "unavailable",
    "timeout", ...); message: human text; field: offending param or None;
    status: the library status (int, patronclient.h); unavailable: fail-open indicator."""

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
    """patrond is absent, dead, or did not answer within the timeout: fail open."""


def load_library(path=None):
    """Load (once) and return the ctypes handle of libpatronclient."""
    global _lib
    with _lib_lock:
        if _lib is not None and path is None:
            return _lib
        lib = ctypes.CDLL(path or os.environ.get("PATRON_CLIENT_LIB") or DEFAULT_LIBRARY)
        lib.patron_open.argtypes = [ctypes.c_char_p, ctypes.c_int]
        lib.patron_open.restype = ctypes.c_void_p
        lib.patron_close.argtypes = [ctypes.c_void_p]
        lib.patron_close.restype = None
        lib.patron_set_timeout.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.patron_set_timeout.restype = ctypes.c_int
        lib.patron_call_json.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                         ctypes.POINTER(ctypes.c_int)]
        lib.patron_call_json.restype = ctypes.c_void_p  # freed with patron_free
        lib.patron_free.argtypes = [ctypes.c_void_p]
        lib.patron_free.restype = None
        lib.patron_strerror.argtypes = [ctypes.c_int]
        lib.patron_strerror.restype = ctypes.c_char_p
        lib.patron_version.argtypes = []
        lib.patron_version.restype = ctypes.c_char_p
        if path is None:
            _lib = lib
        return lib


class Client:
    """A connection handle to patrond (connects lazily, reconnects after failures)."""

    def __init__(self, socket_path=None, timeout_ms=1000, library=None):
        self._lib = load_library(library)
        self.socket_path = socket_path or os.environ.get("PATRON_SOCKET") or DEFAULT_SOCKET
        self.timeout_ms = int(timeout_ms)
        self._h = self._lib.patron_open(self.socket_path.encode(), self.timeout_ms)
        if not self._h:
            raise ValueError("invalid socket path (too long?): %r" % self.socket_path)

    def call(self, method, params=None, timeout_ms=None):
        """Call method with params (a dict, default {}); return the decoded result."""
        if self._h is None:
            raise PatronError("invalid_request", "client is closed", status=E_INVALID)
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise PatronError("invalid_params", "params must be a dict", status=E_INVALID)
        body = json.dumps(params, ensure_ascii=False, allow_nan=False).encode("utf-8")
        status = ctypes.c_int(0)
        old = None
        if timeout_ms is not None:
            old = self._lib.patron_set_timeout(self._h, int(timeout_ms))
        try:
            p = self._lib.patron_call_json(self._h, method.encode("utf-8"), body,
                                           ctypes.byref(status))
        finally:
            if old is not None:
                self._lib.patron_set_timeout(self._h, old)
        if not p:
            raise PatronError("nomem", "out of memory", status=E_NOMEM)
        try:
            text = ctypes.string_at(p).decode("utf-8")
        finally:
            self._lib.patron_free(p)
        value = json.loads(text)
        st = status.value
        if st == OK:
            return value
        cls = PatronUnavailable if st == E_UNAVAILABLE else PatronError
        raise cls(value.get("code", "internal"), value.get("message", ""), value.get("field"),
                  st)

    def ping(self):
        return self.call("ping")

    def close(self):
        if self._h is not None:
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

    @property
    def library_version(self):
        return self._lib.patron_version().decode()

<?php
/* Patron.php -- PHP adapter for patrond through libpatronclient (PHP FFI).
 *
 * Owns: binding the library with FFI (preloaded scope "PATRON" when present, else
 * FFI::cdef) and turning its JSON convenience call into PHP values and exceptions.
 * Invariants: protocol, deadlines and reconnects live in the C library; every failure
 * is a Patron\PatronException (errorCode, message, field, status); a daemon that is absent,
 * dead or too slow throws Patron\UnavailableException within the timeout so a checkout can
 * fail open.
 *
 * Loading (see adapters/README.md):
 *  - CLI, or ffi.enable=true: FFI::cdef() with $PATRON_CLIENT_LIB or libpatronclient.so.0.
 *  - PHP-FPM with the default ffi.enable=preload: FFI::cdef() is refused at request time,
 *    so load the binding at start-up: ffi.preload=/path/to/adapters/php/patron_ffi.h (it
 *    defines FFI_SCOPE "PATRON"), and opcache.preload=/path/to/adapters/php/preload.php so
 *    this class is preloaded (only preloaded code may call FFI::scope() in that mode).
 *
 * A Client is used by one request (PHP has one thread per request); it connects lazily.
 * JSON mapping: PHP arrays <-> JSON (an empty params array is sent as {}), integers stay
 * integers, floats stay floats (JSON_PRESERVE_ZERO_FRACTION); results are associative arrays.
 */
declare(strict_types=1);

namespace Patron;

class PatronException extends \RuntimeException
{
    /** Stable error code: invalid_params, not_found, conflict, unavailable, timeout, ... */
    public readonly string $errorCode;
    /** Offending parameter, or null. */
    public readonly ?string $field;
    /** libpatronclient status (Client::STATUS_*), also getCode(). */
    public readonly int $status;

    public function __construct(string $errorCode, string $message, ?string $field, int $status)
    {
        parent::__construct($message, $status);
        $this->errorCode = $errorCode;
        $this->field = $field;
        $this->status = $status;
    }

    public function isUnavailable(): bool
    {
        return $this->status === Client::STATUS_UNAVAILABLE;
    }
}

/** patrond absent, dead or too slow: fail open. */
class UnavailableException extends PatronException
{
}

final class Client
{
    public const STATUS_OK = 0;
    public const STATUS_REMOTE = -1;
    public const STATUS_UNAVAILABLE = -2;
    public const STATUS_INVALID = -3;
    public const STATUS_PROTOCOL = -4;
    public const STATUS_TOO_LARGE = -5;
    public const STATUS_NOMEM = -6;

    public const DEFAULT_SOCKET = '/run/patron/patron.sock';
    public const DEFAULT_LIBRARY = 'libpatronclient.so.0';
    public const FFI_SCOPE = 'PATRON';

    /** The C declarations this adapter uses: patron_ffi.h (the one copy, also what
     *  ffi.preload loads) without its comment and #define lines, which FFI::cdef() refuses. */
    public static function cdef(): string
    {
        $h = file_get_contents(__DIR__ . '/patron_ffi.h');
        if ($h === false) {
            throw new \RuntimeException('patron_ffi.h is missing beside Patron.php');
        }
        return trim(preg_replace(['~/\*.*?\*/~s', '/^#.*$/m'], '', $h));
    }

    private static ?\FFI $ffi = null;
    private ?\FFI\CData $h;
    public readonly string $socketPath;

    /** The FFI binding: the preloaded scope if there is one, else FFI::cdef(). */
    public static function ffi(): \FFI
    {
        if (self::$ffi === null) {
            try {
                self::$ffi = \FFI::scope(self::FFI_SCOPE);
            } catch (\Throwable $e) {
                $lib = getenv('PATRON_CLIENT_LIB') ?: self::DEFAULT_LIBRARY;
                self::$ffi = \FFI::cdef(self::cdef(), $lib);
            }
        }
        return self::$ffi;
    }

    /** Header text for ffi.preload / FFI::load(), bound to the library at $lib. */
    public static function ffiHeader(string $lib): string
    {
        return "#define FFI_SCOPE \"" . self::FFI_SCOPE . "\"\n#define FFI_LIB \"" .
            addcslashes($lib, "\"\\") . "\"\n" . self::cdef() . "\n";
    }

    public function __construct(?string $socketPath = null, int $timeoutMs = 1000)
    {
        $this->socketPath = $socketPath ?? (getenv('PATRON_SOCKET') ?: self::DEFAULT_SOCKET);
        $this->h = self::ffi()->patron_open($this->socketPath, $timeoutMs);
        if ($this->h === null || \FFI::isNull($this->h)) {
            throw new \InvalidArgumentException("invalid socket path (too long?): {$this->socketPath}");
        }
    }

    /**
     * Call $method with $params (array or object; [] means {}) and return the decoded
     * result. Throws UnavailableException (fail open) or PatronException.
     */
    public function call(string $method, array|object $params = [], ?int $timeoutMs = null): mixed
    {
        if ($this->h === null) {
            throw new PatronException('invalid_request', 'client is closed', null, self::STATUS_INVALID);
        }
        if (is_array($params) && $params !== [] && array_is_list($params)) {
            throw new PatronException('invalid_params', 'params must be a map, not a list', null,
                self::STATUS_INVALID);
        }
        $body = ($params === []) ? '{}' : json_encode($params, JSON_THROW_ON_ERROR |
            JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION);
        $ffi = self::ffi();
        $old = $timeoutMs !== null ? $ffi->patron_set_timeout($this->h, $timeoutMs) : null;
        $st = $ffi->new('int');
        try {
            $p = $ffi->patron_call_json($this->h, $method, $body, \FFI::addr($st));
        } finally {
            if ($old !== null) {
                $ffi->patron_set_timeout($this->h, $old);
            }
        }
        if ($p === null || \FFI::isNull($p)) {
            throw new PatronException('nomem', 'out of memory', null, self::STATUS_NOMEM);
        }
        try {
            $text = \FFI::string($p);
        } finally {
            $ffi->patron_free($p);
        }
        $status = $st->cdata;
        $value = json_decode($text, true, 512, JSON_THROW_ON_ERROR | JSON_BIGINT_AS_STRING);
        if ($status === self::STATUS_OK) {
            return $value;
        }
        $cls = $status === self::STATUS_UNAVAILABLE ? UnavailableException::class : PatronException::class;
        throw new $cls((string)($value['code'] ?? 'internal'), (string)($value['message'] ?? ''),
            isset($value['field']) ? (string)$value['field'] : null, $status);
    }

    public function ping(): mixed
    {
        return $this->call('ping');
    }

    public function close(): void
    {
        if ($this->h !== null) {
            self::ffi()->patron_close($this->h);
            $this->h = null;
        }
    }

    public function __destruct()
    {
        $this->close();
    }

    public static function libraryVersion(): string
    {
        $v = self::ffi()->patron_version();
        return is_string($v) ? $v : \FFI::string($v);
    }
}

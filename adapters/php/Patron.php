<?php
/* Patron.php -- PHP adapter for patrond through libpatronclient (PHP FFI).
 *
 * Owns: binding the library with FFI (preloaded scope "PATRON" when present, else
 * FFI::cdef), turning its JSON convenience call into PHP values and exceptions, and the
 * fail-open policy shared by all adapters: a circuit breaker per socket path (its state in a
 * small temp file, so it outlives the request and is shared by all PHP-FPM workers), a
 * per-page time Budget, typed helpers with documented fallbacks.
 * Invariants: protocol, per-call deadlines and reconnects live in the C library; every
 * failure that is not the caller's bad input (FFI or library missing, socket missing or
 * refused, timeout, daemon restarting, circuit open, budget spent) is a
 * Patron\UnavailableException, and typed helpers turn it into their fallback; bad input is
 * a PatronException with STATUS_INVALID (nothing sent).
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

/** Patron cannot answer now (absent, dead, slow, circuit open, budget spent): fail open. */
class UnavailableException extends PatronException
{
    public function __construct(string $errorCode, string $message, ?string $field = null)
    {
        parent::__construct($errorCode, $message, $field, Client::STATUS_UNAVAILABLE);
    }
}

/** Monotonic milliseconds. */
function now_ms(): float
{
    return hrtime(true) / 1e6;
}

/**
 * Time budget shared by all calls of one page: each call's timeout is cut to what is left;
 * once spent, calls throw UnavailableException('budget_exhausted') without waiting.
 */
final class Budget
{
    public readonly float $deadlineMs;

    public function __construct(int $ms)
    {
        $this->deadlineMs = now_ms() + $ms;
    }

    public function remainingMs(): int
    {
        return max(0, (int)($this->deadlineMs - now_ms()));
    }
}

/**
 * Circuit breaker of one socket path. Closed: calls go through; $failures consecutive
 * unavailable results open it, and so does one full timeout (a hung daemon costs one timeout,
 * not one per call). Open: calls fail at once ('circuit_open') for $cooldownMs; then the next
 * call is the single probe (others keep failing at once): an answer closes it, a failure
 * reopens it.
 * PHP forgets static state at the end of every request, so the breakers of forSocket() keep
 * their state in a small file ($stateFile, in the temp dir, per socket path and user) that
 * every request of every PHP-FPM worker of the host reads: the healthy path costs one failed
 * open() (the file exists only while there are failures). A Breaker made with new and no
 * state file lives for the request (tests, CLI scripts).
 */
final class Breaker
{
    private int $fails = 0;
    private ?float $openUntil = null; // hrtime ms (CLOCK_MONOTONIC: one clock for all processes)
    private bool $probing = false;     // this process holds the probe
    /** @var array<string, Breaker> */
    private static array $bySocket = [];

    public function __construct(public readonly int $failures = 3, public readonly int $cooldownMs = 5000,
                                public readonly ?string $stateFile = null)
    {
    }

    /** The breaker of a socket path shared by all requests of the host (see above). */
    public static function forSocket(string $path, int $failures = 3, int $cooldownMs = 5000): self
    {
        $file = sys_get_temp_dir() . '/patron-breaker-' . md5($path) . '-' .
            (function_exists('posix_geteuid') ? posix_geteuid() : getmyuid());
        return self::$bySocket["$path|$failures|$cooldownMs"] ??= new self($failures, $cooldownMs, $file);
    }

    private function load(): void
    {
        if ($this->stateFile === null || $this->probing) {
            return;
        }
        $t = @file_get_contents($this->stateFile);
        if ($t === false || !preg_match('/^(\d+) (\d+(?:\.\d+)?|-)$/', $t, $m)) {
            [$this->fails, $this->openUntil] = [0, null];
            return;
        }
        $this->fails = (int)$m[1];
        $this->openUntil = $m[2] === '-' ? null : (float)$m[2];
    }

    private function save(): void
    {
        if ($this->stateFile === null) {
            return;
        }
        if ($this->fails === 0 && $this->openUntil === null) {
            @unlink($this->stateFile);
            return;
        }
        $tmp = $this->stateFile . '.' . getmypid();
        if (@file_put_contents($tmp, $this->fails . ' ' . ($this->openUntil === null ? '-' : sprintf('%.3f', $this->openUntil))) !== false) {
            @rename($tmp, $this->stateFile); // atomic: readers see the old or the new state
        }
    }

    public function state(): string
    {
        $this->load();
        if ($this->openUntil === null) {
            return 'closed';
        }
        return ($this->probing || now_ms() >= $this->openUntil) ? 'half_open' : 'open';
    }

    /** Throws UnavailableException if no call may go out now. */
    public function admit(): void
    {
        $this->load();
        if ($this->openUntil === null) {
            return;
        }
        if ($this->probing || now_ms() < $this->openUntil) {
            throw new UnavailableException('circuit_open',
                'Patron circuit open after repeated failures; retried after the cool-down');
        }
        // this call is the probe; other processes see the circuit open until it reports
        $this->probing = true;
        $this->openUntil = now_ms() + max(0, $this->cooldownMs);
        $this->save();
    }

    /** $reached: the daemon answered (even with an error). $timedOut: a full timeout. */
    public function record(bool $reached, bool $timedOut = false): void
    {
        $wasProbe = $this->probing;
        $this->probing = false;
        $this->load();
        if ($reached) {
            if ($this->fails !== 0 || $this->openUntil !== null) {
                [$this->fails, $this->openUntil] = [0, null];
                $this->save();
            }
            return;
        }
        $this->fails++;
        if ($wasProbe || $timedOut || $this->fails >= max(1, $this->failures)) {
            $this->openUntil = now_ms() + max(0, $this->cooldownMs);
        }
        $this->save();
    }
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
    public const DEFAULT_TIMEOUT_MS = 1000;
    public const FFI_SCOPE = 'PATRON';
    public const UNKNOWN_TIER = 'unknown';
    /** Remote codes a typed helper also turns into its fallback: the daemon lacks the
     *  feature (older version), which is not the caller's mistake. */
    private const FALLBACK_CODES = ['unknown_method'];

    /** The C declarations this adapter uses: patron_ffi.h (the one copy, also what
     *  ffi.preload loads) without its comment and #define lines, which FFI::cdef() refuses. */
    public static function cdef(): string
    {
        $h = @file_get_contents(__DIR__ . '/patron_ffi.h');
        if ($h === false) {
            throw new \RuntimeException('patron_ffi.h is missing beside Patron.php');
        }
        return trim(preg_replace(['~/\*.*?\*/~s', '/^#.*$/m'], '', $h));
    }

    private static ?\FFI $ffi = null;
    private ?\FFI\CData $h = null;
    private bool $closed = false;
    private ?string $loadError = null;
    public readonly string $socketPath;
    public readonly int $timeoutMs;
    public readonly Breaker $breaker;

    /** The FFI binding: the preloaded scope if there is one, else FFI::cdef(). Throws
     *  \Throwable (FFI\Exception, Error) when FFI or the library is missing. */
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

    /**
     * Never connects and never throws for a missing FFI/library (calls then throw
     * UnavailableException); throws \InvalidArgumentException for a socket path that cannot
     * fit a Unix socket address (the caller's mistake). A daemon on another host:
     * $socketPath 'tls://host:7443' and $tls ['cert' => ..., 'key' => ..., 'ca' => ...] (PEM
     * files; a file that does not load makes every call throw UnavailableException saying so).
     */
    public function __construct(?string $socketPath = null, int $timeoutMs = self::DEFAULT_TIMEOUT_MS,
                                ?Breaker $breaker = null, ?array $tls = null)
    {
        $this->socketPath = $socketPath ?? (getenv('PATRON_SOCKET') ?: self::DEFAULT_SOCKET);
        $isTls = str_starts_with($this->socketPath, 'tls://');
        if (strlen($this->socketPath) >= ($isTls ? 300 : 108)) {
            throw new \InvalidArgumentException("invalid socket path (too long): {$this->socketPath}");
        }
        if ($tls !== null && (!$isTls || array_diff(array_keys($tls), ['cert', 'key', 'ca']))) {
            throw new \InvalidArgumentException("\$tls = ['cert' => .., 'key' => .., 'ca' => ..] goes with a tls://host:port address");
        }
        $this->timeoutMs = $timeoutMs > 0 ? $timeoutMs : self::DEFAULT_TIMEOUT_MS;
        $this->breaker = $breaker ?? Breaker::forSocket($this->socketPath);
        try {
            $this->h = self::ffi()->patron_open($this->socketPath, $this->timeoutMs);
            if ($this->h === null || \FFI::isNull($this->h)) {
                $this->loadError = 'patron_open failed (malformed tls:// address or out of memory)';
                $this->h = null;
            } elseif ($tls !== null) {
                $err = self::ffi()->new('patron_error_t');
                if (self::ffi()->patron_set_tls($this->h, $tls['cert'] ?? null, $tls['key'] ?? null,
                                                $tls['ca'] ?? null, \FFI::addr($err)) !== 0) {
                    $this->loadError = 'TLS options: ' . \FFI::string($err->message);
                    self::ffi()->patron_close($this->h);
                    $this->h = null;
                }
            }
        } catch (\Throwable $e) {
            $this->loadError = 'libpatronclient could not be loaded: ' . $e->getMessage();
        }
    }

    /**
     * Call $method with $params (array or object; [] means {}) and return the decoded
     * result. $timeoutMs overrides the client's; $budget cuts it to the page's remaining time.
     * Throws UnavailableException (fail open) or PatronException.
     */
    public function call(string $method, array|object $params = [], ?int $timeoutMs = null,
                         ?Budget $budget = null): mixed
    {
        if ($this->closed) {
            throw new PatronException('invalid_request', 'client is closed', null, self::STATUS_INVALID);
        }
        if (is_array($params) && $params !== [] && array_is_list($params)) {
            throw new PatronException('invalid_params', 'params must be a map, not a list', null,
                self::STATUS_INVALID);
        }
        try {
            $body = ($params === []) ? '{}' : json_encode($params, JSON_THROW_ON_ERROR |
                JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION);
        } catch (\JsonException $e) {
            throw new PatronException('invalid_params', 'params not JSON-encodable: ' . $e->getMessage(),
                null, self::STATUS_INVALID);
        }
        $t = ($timeoutMs !== null && $timeoutMs > 0) ? $timeoutMs : $this->timeoutMs;
        $clipped = false;
        if ($budget !== null) {
            $left = $budget->remainingMs();
            if ($left <= 0) {
                throw new UnavailableException('budget_exhausted', "the page's Patron time budget is spent");
            }
            if ($left < $t) {
                [$t, $clipped] = [$left, true];
            }
        }
        $this->breaker->admit();
        if ($this->loadError !== null) {
            $this->breaker->record(false);
            throw new UnavailableException('unavailable', $this->loadError);
        }
        try {
            [$value, $status] = $this->raw($method, $body, $t);
        } catch (\Throwable $e) {
            $this->breaker->record(true); // not a reachability failure: clear a probe
            throw $e;
        }
        if ($status === self::STATUS_UNAVAILABLE) {
            $this->breaker->record(false, ($value['code'] ?? '') === 'timeout' && !$clipped);
        } else {
            $this->breaker->record(true);
        }
        if ($status === self::STATUS_OK) {
            return $value;
        }
        $code = (string)($value['code'] ?? 'internal');
        $msg = (string)($value['message'] ?? '');
        $field = isset($value['field']) ? (string)$value['field'] : null;
        if ($status === self::STATUS_UNAVAILABLE) {
            throw new UnavailableException($code, $msg, $field);
        }
        throw new PatronException($code, $msg, $field, $status);
    }

    /** @return array{0: mixed, 1: int} the decoded JSON (result or error) and the status */
    private function raw(string $method, string $body, int $timeoutMs): array
    {
        $ffi = self::ffi();
        $ffi->patron_set_timeout($this->h, $timeoutMs);
        $st = $ffi->new('int');
        $p = $ffi->patron_call_json($this->h, $method, $body, \FFI::addr($st));
        if ($p === null || \FFI::isNull($p)) {
            throw new PatronException('nomem', 'out of memory', null, self::STATUS_NOMEM);
        }
        try {
            $text = \FFI::string($p);
        } finally {
            $ffi->patron_free($p);
        }
        return [json_decode($text, true, 512, JSON_THROW_ON_ERROR | JSON_BIGINT_AS_STRING), $st->cdata];
    }

    public function ping(): mixed
    {
        return $this->call('ping');
    }

    private function typed(string $method, array $params, callable $pick, mixed $fallback,
                           ?int $timeoutMs, ?Budget $budget): mixed
    {
        try {
            return $pick($this->call($method, $params, $timeoutMs, $budget));
        } catch (PatronException $e) {
            if ($e->isUnavailable() || in_array($e->errorCode, self::FALLBACK_CODES, true)) {
                return $fallback;
            }
            throw $e;
        }
    }

    private static function items(mixed $r): array
    {
        return is_array($r) && is_array($r['items'] ?? null) ? $r['items'] : [];
    }

    /** recs.cart items ([{product_id, score, reason}], best first); [] when unavailable.
     *  $opts: customer_id, limit, filters (as in PROTOCOL.md). */
    public function recsCart(array $items, array $opts = [], ?int $timeoutMs = null, ?Budget $budget = null): array
    {
        return $this->typed('recs.cart', ['items' => array_values($items)] + $opts,
            [self::class, 'items'], [], $timeoutMs, $budget);
    }

    /** recs.upsell items; [] when unavailable. $opts: limit, filters. */
    public function recsUpsell(string $productId, array $opts = [], ?int $timeoutMs = null, ?Budget $budget = null): array
    {
        return $this->typed('recs.upsell', ['product_id' => $productId] + $opts,
            [self::class, 'items'], [], $timeoutMs, $budget);
    }

    /** offers.* wire names, in ONE place. Callers pass the protocol's usual names:
     *  {customer_id, cart: {currency, value?, lines: [{product_id, category?, quantity,
     *  unit_price}]}}; this patrond's offers methods still read {customer, cart: {items:
     *  [{product, price}]}} (issue 9); once they take the usual names this is the identity. */
    public const OFFERS_WIRE = ['customer_id' => 'customer_id', 'lines' => 'lines', 'product_id' => 'product_id',
        'unit_price' => 'unit_price'];

    /** offers.decide / offers.redeem params from the protocol's names (see OFFERS_WIRE). */
    public static function offersParams(string $customerId, array $cart, array $more = []): array
    {
        $w = self::OFFERS_WIRE;
        $c = $cart;
        unset($c['lines']);
        $c[$w['lines']] = [];
        foreach ($cart['lines'] ?? [] as $line) {
            $l = [];
            foreach ($line as $k => $v) {
                $l[$w[$k] ?? $k] = $v;
            }
            $c[$w['lines']][] = $l;
        }
        return [$w['customer_id'] => $customerId, 'cart' => $c] + $more;
    }

    /** The best shown offer of offers.decide ({offer_id, discount, currency, token, ...}), or
     *  null (no offer, held out, or unavailable). $cart: {currency, lines: [{product_id,
     *  quantity, unit_price, category?}], value?}. */
    public function offer(string $customerId, array $cart, ?int $timeoutMs = null, ?Budget $budget = null): ?array
    {
        return $this->typed('offers.decide', self::offersParams($customerId, $cart), function ($r) {
            foreach (is_array($r) ? ($r['offers'] ?? []) : [] as $o) {
                if (empty($o['held_out'])) {
                    return $o; // held-out entries are the control arm: they show nothing
                }
            }
            return null;
        }, null, $timeoutMs, $budget);
    }

    /** offers.redeem of a decided offer's token (a write: throws, no fallback). */
    public function redeemOffer(string $customerId, string $token, array $cart, string $idempotencyKey,
                                ?int $timeoutMs = null, ?Budget $budget = null): array
    {
        return $this->call('offers.redeem', self::offersParams($customerId, $cart,
            ['token' => $token, 'idempotency_key' => $idempotencyKey]), $timeoutMs, $budget);
    }

    /** The customer's loyalty tier name, or Client::UNKNOWN_TIER. */
    public function tier(string $customerId, ?int $timeoutMs = null, ?Budget $budget = null): string
    {
        return $this->typed('loyalty.tier', ['customer_id' => $customerId], function ($r) {
            $t = is_array($r) ? ($r['tier'] ?? null) : null;
            $t = is_array($t) ? ($t['name'] ?? null) : $t;
            return is_string($t) && $t !== '' ? $t : self::UNKNOWN_TIER;
        }, self::UNKNOWN_TIER, $timeoutMs, $budget);
    }

    /** The customer's spendable points (0 for a non-member), or null when unknown. */
    public function points(string $customerId, ?int $timeoutMs = null, ?Budget $budget = null): ?int
    {
        return $this->typed('loyalty.points', ['customer_id' => $customerId, 'limit' => 0],
            fn($r) => is_array($r) && is_int($r['balance'] ?? null) ? $r['balance'] : null, null, $timeoutMs, $budget);
    }

    public function close(): void
    {
        if (!$this->closed) {
            $this->closed = true;
            if ($this->h !== null) {
                self::ffi()->patron_close($this->h);
                $this->h = null;
            }
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

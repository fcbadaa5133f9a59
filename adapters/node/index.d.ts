// index.d.ts -- TypeScript types of patron-client (index.js). Owns: the public API's shapes;
// kept in step with index.js by the npm-pack test, which compiles a user of every export.

/** patron_status_t of libpatronclient. */
export declare const Status: Readonly<{
  OK: 0; REMOTE: -1; UNAVAILABLE: -2; INVALID: -3; PROTOCOL: -4; TOO_LARGE: -5; NOMEM: -6;
}>;
export declare const DEFAULT_SOCKET: string;
export declare const UNKNOWN_TIER: 'unknown';

/** Every failure. `unavailable` true = fail open (absent, dead, slow, circuit open, budget spent). */
export declare class PatronError extends Error {
  readonly code: string;
  readonly patronMessage: string;
  readonly field: string | null;
  readonly status: number;
  readonly unavailable: boolean;
}

/** Time budget shared by all calls of one page. */
export declare class Budget {
  constructor(ms: number);
  readonly deadline: number;
  remainingMs(): number;
}

/** Circuit breaker of one socket path (shared by the Clients of a process unless given). */
export declare class Breaker {
  constructor(failures?: number, cooldownMs?: number);
  readonly failures: number;
  readonly cooldownMs: number;
  readonly state: 'closed' | 'open' | 'half_open';
}

export interface ClientOptions {
  /** default $PATRON_SOCKET, else /run/patron/patron.sock; or 'tls://host:port' (with tls) */
  socketPath?: string;
  /** client certificate, its key and the CA of the daemon's certificate (PEM file paths)
   *  for a tls:// socketPath (patrond's [tls] listener) */
  tls?: { cert?: string; key?: string; ca?: string };
  /** per-call timeout, default 1000 */
  timeoutMs?: number;
  /** path of libpatronclient, default $PATRON_CLIENT_LIB, else libpatronclient.so.0 */
  library?: string;
  breaker?: Breaker;
  /** worker threads (calls in flight at once), default 4 */
  poolSize?: number;
  /** workers started by the constructor, default 1 */
  prestart?: number;
}

export interface CallOptions {
  timeoutMs?: number;
  budget?: Budget;
}
export type CallOpts = number | CallOptions;

export interface RecItem {
  product_id: string;
  score: number;
  reason: 'co_purchase' | 'upsell' | 'personal' | 'popular' | 'trending' | 'repurchase' | string;
}
export interface RecsOptions {
  customer_id?: string;
  limit?: number;
  filters?: Record<string, unknown>;
}

/** A cart for offers.decide / offers.redeem, in the protocol's usual names (money in minor units). */
export interface OfferCart {
  currency: string;
  value?: number;
  lines: Array<{ product_id: string; quantity?: number; unit_price: number; category?: string }>;
}
export interface DecidedOffer {
  offer_id: string;
  arm: number;
  variant: string;
  held_out: boolean;
  value: number;
  /** what the offer takes off this cart, minor units of `currency` */
  discount: number;
  currency: string;
  impression_id: string;
  expires: number;
  token?: string;
  [k: string]: unknown;
}
export interface OfferRedemption {
  replay: boolean;
  offer_id: string;
  arm: number;
  discount: number;
  currency: string;
  redemptions_left: number;
  money_left: number;
}
/** offers.* wire names of this patrond (the one place they are spelled). */
export declare const OFFERS_WIRE: Readonly<Record<'customer_id' | 'lines' | 'product_id' | 'unit_price', string>>;
export declare function offersParams(customerId: string, cart: OfferCart, more?: Record<string, unknown>): Record<string, unknown>;

export declare class Client {
  constructor(options?: ClientOptions);
  readonly socketPath: string;
  readonly timeoutMs: number;
  readonly breaker: Breaker;
  /** Resolves when the workers started so far have loaded the library. */
  ready(): Promise<unknown>;
  call<T = any>(method: string, params?: Record<string, unknown>, opts?: CallOpts): Promise<T>;
  callSync<T = any>(method: string, params?: Record<string, unknown>, opts?: CallOpts): T;
  ping(opts?: CallOpts): Promise<{ pong: boolean; time: number }>;
  /** [] when Patron is unavailable */
  recsCart(items: string[], more?: RecsOptions, opts?: CallOpts): Promise<RecItem[]>;
  /** [] when Patron is unavailable */
  recsUpsell(productId: string, more?: Omit<RecsOptions, 'customer_id'>, opts?: CallOpts): Promise<RecItem[]>;
  /** the first shown offer; null when there is none (or held out) or Patron is unavailable */
  offer(customerId: string, cart: OfferCart, opts?: CallOpts): Promise<DecidedOffer | null>;
  /** offers.redeem of a decided offer's token; rejects (a write has no fallback) */
  redeemOffer(customerId: string, token: string, cart: OfferCart, idempotencyKey: string, opts?: CallOpts): Promise<OfferRedemption>;
  /** 'unknown' when Patron is unavailable */
  tier(customerId: string, opts?: CallOpts): Promise<string>;
  /** spendable points (0 for a non-member); null when Patron is unavailable */
  points(customerId: string, opts?: CallOpts): Promise<number | null>;
  close(): Promise<void>;
  closeSync(): void;
  readonly libraryVersion: string;
}

export declare function loadLibrary(path?: string): unknown;

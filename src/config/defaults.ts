import type { ForwardedHeaderMode } from '../proxy/forwarded-element.js';
import type { TlsSettings } from './tls-settings.js';

/** Every default in one place; durations carry their unit in the key name (…Ms). */
export const DEFAULTS = {
  /** HOST:PORT the proxy listens on for clients. */
  listen: '127.0.0.1:8080',
  /** http:// or https:// + IPv4-or-hostname[:port]; required, no default. */
  upstream: undefined as string | undefined,
  /** Ask the SYN pool for new upstream connections; false = plain connects only. */
  accel: true,
  /** Forward the client's Host header instead of the upstream's host. */
  preserveHost: false,
  /** CIDRs of peers whose forwarding headers are extended; any other client's are replaced. None by default. */
  trustedProxies: [] as string[],
  /** Forwarding headers written upstream: 'x-forwarded' (X-Forwarded-For/-Proto/-Host), 'forwarded' (RFC 7239) or 'both'. */
  forwardedHeader: 'x-forwarded' as ForwardedHeaderMode,
  /** TCP connect to the upstream (plain path); exceeded → 504. */
  connectTimeoutMs: 5_000,
  /** Request sent → first response byte (status line and headers); exceeded → 504. */
  headersTimeoutMs: 30_000,
  /** Longest silence between two response body chunks; exceeded → 504 (or a cut response). */
  bodyTimeoutMs: 30_000,
  /** How long an idle upstream keep-alive connection is kept (unless the upstream says less). */
  upstreamKeepAliveTimeoutMs: 4_000,
  /** How long an idle client keep-alive connection is kept open. */
  clientKeepAliveTimeoutMs: 5_000,
  /** A client must send a request's whole header section within this; exceeded → 408 and close. */
  clientHeadersTimeoutMs: 60_000,
  /** An upgraded connection (WebSocket…) with no byte either way for this long is closed. */
  upgradeIdleTimeoutMs: 60_000,
  /** Upper bound on concurrent connections per upstream, first attempts and replays together (≥ 2; src/proxy/connection-budget.ts). */
  maxUpstreamConnections: 256,
  leanExchange: true,
  /** Request body bytes kept so a request can be replayed on a fresh connection (bytes). */
  retryBufferBytes: 1_048_576,
  /** SIGTERM/SIGINT: how long in-flight requests may take to finish before connections are cut. */
  shutdownTimeoutMs: 10_000,
  /** HOST:PORT for /metrics, /healthz, /readyz; null disables the listener. */
  metricsListen: '127.0.0.1:9464' as string | null,
  logLevel: 'info' as LogLevel,
  /**
   * An upstream given by name: how often its A and AAAA records are looked up again
   * (the system resolver gives no record TTL); a new address gets a pool, a vanished one loses its.
   */
  resolveIntervalMs: 30_000,
  /** HTTP worker processes: a count, or 'auto' (one per core); the keeper is one more process. */
  workers: 1 as number | 'auto',
  /** Started as root, the workers and the keeper run as this user (the keeper keeps CAP_NET_RAW and CAP_NET_ADMIN). */
  user: 'nobody',
  /**
   * Held connections each worker keeps per upstream address (src/keeper/held-stock.ts): the
   * keeper hands them over ahead of requests, held (the server is not told until the first
   * byte), so a request needs no round trip to the keeper. Replaced only while requests come.
   */
  heldPerWorker: 2,
  /** The keeper's socket for local clients (docs/keeper-protocol.md); null: a private one for the workers only. */
  keeperSocket: null as string | null,
  /** Half-open pool settings (src/pool/pool-config.ts): unset fields take POOL_DEFAULTS. */
  pool: {} as Record<string, unknown>,
  /**
   * Passive health (src/config/health-settings.ts): unset fields take HEALTH_DEFAULTS
   * (maxFails 5, ejectMs 10 000, maxEjectMs 300 000, ejectJitter 0.1); each upstream's
   * `health` overrides it field by field.
   */
  health: {} as Record<string, unknown>,
  /**
   * https:// upstreams (src/config/tls-settings.ts): `ca` a PEM file added to the default roots,
   * `servername` the SNI and checked name (null: the URL's host), `verify` false only when said.
   */
  tls: { ca: null, servername: null, verify: true } as TlsSettings,
};

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

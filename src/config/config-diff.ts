import { CONFIG_SCHEMA, type SynpoolConfig, type SynpoolConfigShape } from './schema.js';

/**
 * What a changed key takes to apply on a running proxy (SIGHUP):
 * - upstream: a new upstream runtime; pools of addresses both share are kept;
 * - pool: the pools restart with the new settings (entries released, refilled);
 * - agent: a new upstream dispatcher for new requests; the old one finishes its requests;
 * - proxy: the next request uses it (ProxyServer.reconfigure);
 * - log, now: applied at once;
 * - restart: only a restart applies it (a bound socket, the raw channel, a listener setting).
 */
export type ReloadEffect = 'upstream' | 'pool' | 'agent' | 'proxy' | 'log' | 'now' | 'restart';

/** Typed over every key: a new config key does not compile until it says how it reloads. */
export const RELOAD_EFFECT: { readonly [K in keyof SynpoolConfigShape]: ReloadEffect } = {
  listen: 'restart',
  metricsListen: 'restart',
  accel: 'restart',
  clientHeadersTimeoutMs: 'restart',
  workers: 'restart',
  user: 'restart',
  keeperSocket: 'restart',
  heldPerWorker: 'restart',
  upstream: 'upstream',
  upstreams: 'upstream',
  routes: 'upstream',
  resolveIntervalMs: 'upstream',
  pool: 'pool',
  // New routing over the kept runtimes: buildRouting gives every server its thresholds (PassiveHealth.configure).
  health: 'upstream',
  connectTimeoutMs: 'agent',
  upstreamKeepAliveTimeoutMs: 'agent',
  maxUpstreamConnections: 'agent',
  leanExchange: 'agent',
  tls: 'agent',
  preserveHost: 'proxy',
  trustedProxies: 'proxy',
  forwardedHeader: 'proxy',
  headersTimeoutMs: 'proxy',
  bodyTimeoutMs: 'proxy',
  retryBufferBytes: 'proxy',
  clientKeepAliveTimeoutMs: 'proxy',
  upgradeIdleTimeoutMs: 'proxy',
  logLevel: 'log',
  shutdownTimeoutMs: 'now',
};

export interface ConfigDiff {
  /** Keys whose value differs, in schema order. */
  readonly changed: readonly (keyof SynpoolConfigShape)[];
  readonly effects: ReadonlySet<ReloadEffect>;
  /** Changed keys only a restart applies. */
  readonly restartNeeded: readonly (keyof SynpoolConfigShape)[];
}

/** Compares two validated configs key by key (values are plain JSON data). */
export function diffConfig(before: SynpoolConfig, after: SynpoolConfig): ConfigDiff {
  const keys = Object.keys(CONFIG_SCHEMA) as (keyof SynpoolConfigShape)[];
  const changed = keys.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  return {
    changed,
    effects: new Set(changed.map((k) => RELOAD_EFFECT[k])),
    restartNeeded: changed.filter((k) => RELOAD_EFFECT[k] === 'restart'),
  };
}

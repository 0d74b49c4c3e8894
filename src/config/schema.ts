import { resolvePoolSettings, type PoolSettings } from '../pool/pool-config.js';
import { isIP } from 'node:net';
import { canonicalAddress } from '../handshake/endpoint.js';
import { ConfigError } from '../errors.js';
import { deepFreeze, type DeepReadonly } from './deep-freeze.js';
import { checkFixedTarget } from './pool-target.js';
import { resolveHealthSettings, type HealthSettings } from './health-settings.js';
import { resolveTlsSettings, type TlsSettings } from './tls-settings.js';
import { DEFAULTS, LOG_LEVELS, type LogLevel } from './defaults.js';
import { FORWARDED_HEADER_MODES, type ForwardedHeaderMode } from '../proxy/forwarded-element.js';
import { TrustedProxies } from '../proxy/trusted-proxies.js';
import type { RouteInput } from '../routing/route-table.js';
import { DEFAULT_UPSTREAM, resolveRoutes, resolveUpstreamGroups, type UpstreamGroupConfig } from './upstream-groups.js';

export interface SynpoolConfigShape {
  listen: string;
  /** One upstream URL (the `--upstream` shortcut): becomes upstreams.default with a catch-all route; null when `upstreams` is used. */
  upstream: string | null;
  /** Named upstreams: servers, balancing, pool overrides (src/config/upstream-groups.ts); always filled after validation. */
  upstreams: Record<string, UpstreamGroupConfig>;
  /** Which requests go to which upstream, first match wins; always filled after validation. */
  routes: RouteInput[];
  accel: boolean;
  preserveHost: boolean;
  /** CIDRs (IPv4, IPv6) of peers whose forwarding headers are extended rather than replaced. */
  trustedProxies: string[];
  forwardedHeader: ForwardedHeaderMode;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  upstreamKeepAliveTimeoutMs: number;
  clientKeepAliveTimeoutMs: number;
  clientHeadersTimeoutMs: number;
  upgradeIdleTimeoutMs: number;
  maxUpstreamConnections: number;
  /** Bodiless GET/DELETE/OPTIONS to http:// servers through synpool's own HTTP/1 exchange (src/proxy/lean-pool.ts); false: all through undici. */
  leanExchange: boolean;
  retryBufferBytes: number;
  shutdownTimeoutMs: number;
  metricsListen: string | null;
  logLevel: LogLevel;
  resolveIntervalMs: number;
  /** HTTP worker processes (src/process/): a count, or 'auto' for one per core. */
  workers: number | 'auto';
  /** The unprivileged user the workers and the keeper run as when synpool starts as root. */
  user: string;
  /** The keeper's socket for local clients (docs/keeper-protocol.md), mode 0660; null: a private one for the workers only. */
  keeperSocket: string | null;
  /** Held connections each worker keeps per upstream address, handed over by the keeper ahead of requests (0: none). */
  heldPerWorker: number;
  pool: Record<string, unknown>;
  /** Passive health thresholds, the default of every upstream's `health` (src/config/health-settings.ts). */
  health: HealthSettings;
  /** https upstreams only: trust, name, verification (src/config/tls-settings.ts). */
  tls: TlsSettings;
}

/** The validated, deep-frozen configuration. */
export type SynpoolConfig = DeepReadonly<SynpoolConfigShape>;

/** What a config file or the flags may contain: any subset, unvalidated. */
export type ConfigInput = { [K in keyof SynpoolConfigShape]?: unknown };

type FieldSpec =
  | { kind: 'int'; min: number; max: number; unit: string }
  | { kind: 'bool' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'hostPort'; nullable: boolean }
  | { kind: 'upstreamUrl' }
  | { kind: 'upstreams' }
  | { kind: 'routes' }
  | { kind: 'cidrList' }
  | { kind: 'object' }
  | { kind: 'workers' }
  | { kind: 'userName' }
  | { kind: 'socketPath' };

const HOUR_MS = 3_600_000;

/** One entry per allowed top-level key: anything else is rejected (additionalProperties: false). */
export const CONFIG_SCHEMA: { readonly [K in keyof SynpoolConfigShape]: FieldSpec } = {
  listen: { kind: 'hostPort', nullable: false },
  upstream: { kind: 'upstreamUrl' },
  upstreams: { kind: 'upstreams' },
  routes: { kind: 'routes' },
  accel: { kind: 'bool' },
  preserveHost: { kind: 'bool' },
  trustedProxies: { kind: 'cidrList' },
  forwardedHeader: { kind: 'enum', values: FORWARDED_HEADER_MODES },
  connectTimeoutMs: { kind: 'int', min: 1, max: HOUR_MS, unit: 'milliseconds' },
  headersTimeoutMs: { kind: 'int', min: 1, max: HOUR_MS, unit: 'milliseconds' },
  bodyTimeoutMs: { kind: 'int', min: 1, max: HOUR_MS, unit: 'milliseconds' },
  upstreamKeepAliveTimeoutMs: { kind: 'int', min: 1, max: HOUR_MS, unit: 'milliseconds' },
  clientKeepAliveTimeoutMs: { kind: 'int', min: 1, max: HOUR_MS, unit: 'milliseconds' },
  clientHeadersTimeoutMs: { kind: 'int', min: 1, max: HOUR_MS, unit: 'milliseconds' },
  upgradeIdleTimeoutMs: { kind: 'int', min: 1, max: HOUR_MS, unit: 'milliseconds' },
  // ≥ 2: first attempts and replays share the cap (src/proxy/connection-budget.ts).
  maxUpstreamConnections: { kind: 'int', min: 2, max: 65_535, unit: 'connections' },
  leanExchange: { kind: 'bool' },
  retryBufferBytes: { kind: 'int', min: 0, max: 1 << 30, unit: 'bytes' },
  shutdownTimeoutMs: { kind: 'int', min: 0, max: HOUR_MS, unit: 'milliseconds' },
  metricsListen: { kind: 'hostPort', nullable: true },
  logLevel: { kind: 'enum', values: LOG_LEVELS },
  // ≥ 100 ms: each look-up is a resolver call; tests use short intervals, production seconds to minutes.
  resolveIntervalMs: { kind: 'int', min: 100, max: HOUR_MS, unit: 'milliseconds' },
  workers: { kind: 'workers' },
  user: { kind: 'userName' },
  keeperSocket: { kind: 'socketPath' },
  heldPerWorker: { kind: 'int', min: 0, max: 64, unit: 'connections' },
  pool: { kind: 'object' },
  health: { kind: 'object' },
  tls: { kind: 'object' },
};

/** More workers than this on one machine is a typo, not a plan. */
export const MAX_WORKERS = 256;
/** sun_path holds 108 bytes with its terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;


export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `${truncate(JSON.stringify(value))} (array)`;
  if (typeof value === 'string') return `${truncate(JSON.stringify(value))} (string)`;
  if (typeof value === 'object') return `${truncate(JSON.stringify(value))} (object)`;
  return `${String(value)} (${typeof value})`;
}

function truncate(s: string | undefined): string {
  if (s === undefined) return 'undefined';
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function fail(field: string, value: unknown, allowed: string): never {
  throw new ConfigError(field, `got ${describeValue(value)}; allowed: ${allowed}`);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Parses "HOST:PORT" (IPv4 literal or hostname; port 0..65535, 0 = any free port). */
export function parseHostPort(field: string, value: unknown): { host: string; port: number } {
  const allowed = 'a string "HOST:PORT" with an IPv4 address or hostname and a port from 0 to 65535';
  if (typeof value !== 'string') fail(field, value, allowed);
  const colon = value.lastIndexOf(':');
  if (colon <= 0) fail(field, value, allowed);
  const host = value.slice(0, colon);
  const portText = value.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText)) fail(field, value, allowed);
  const port = Number(portText);
  if (port > 65_535) fail(field, value, allowed);
  if (isIP(host) === 6 || host.includes(':') || !/^[A-Za-z0-9.-]+$/.test(host)) fail(field, value, allowed);
  return { host, port };
}

/**
 * The parts of an upstream URL that matter; a name is resolved later, once. An IPv6
 * literal comes back without brackets, canonical (RFC 5952); link-local is refused.
 */
export function parseUpstreamUrl(
  field: string,
  value: unknown,
): { protocol: 'http:' | 'https:'; hostname: string; port: number; hostHeader: string } {
  const allowed = 'an http:// or https:// URL with an IPv4 address, a bracketed IPv6 address or a hostname, an optional port and no path, query or credentials (e.g. "http://10.0.0.2:8080", "http://[fd00::2]:8080")';
  if (typeof value !== 'string') fail(field, value, allowed);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    fail(field, value, allowed);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(field, value, `${allowed}; other schemes are not supported`);
  if (url.username !== '' || url.password !== '') fail(field, value, allowed);
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') fail(field, value, allowed);
  let hostname = url.hostname;
  if (hostname.startsWith('[')) {
    try {
      hostname = canonicalAddress(hostname.slice(1, -1));
    } catch (err) {
      fail(field, value, `${allowed}; ${(err as Error).message}`);
    }
  }
  const protocol = url.protocol;
  const port = url.port === '' ? (protocol === 'https:' ? 443 : 80) : Number(url.port);
  return { protocol, hostname, port, hostHeader: url.host };
}

function checkField(field: string, spec: FieldSpec, value: unknown): void {
  switch (spec.kind) {
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < spec.min || value > spec.max) {
        fail(field, value, `an integer from ${spec.min} to ${spec.max} (${spec.unit})`);
      }
      return;
    case 'bool':
      if (typeof value !== 'boolean') fail(field, value, 'true or false');
      return;
    case 'enum':
      if (typeof value !== 'string' || !spec.values.includes(value)) fail(field, value, `one of ${spec.values.join(', ')}`);
      return;
    case 'hostPort':
      if (value === null && spec.nullable) return;
      parseHostPort(field, value);
      return;
    case 'upstreamUrl':
      if (value === undefined || value === null) return; // or `upstreams`: checked together in validateConfig
      parseUpstreamUrl(field, value);
      return;
    case 'upstreams':
    case 'routes':
      return; // validated with the pool settings they depend on, in validateConfig
    case 'cidrList':
      if (!Array.isArray(value)) fail(field, value, 'a list of IPv4 or IPv6 CIDRs, e.g. ["10.0.0.0/8", "::1/128"]');
      new TrustedProxies(value, field);
      return;
    case 'object':
      if (!isPlainObject(value)) fail(field, value, 'an object');
      return;
    case 'workers':
      if (value === 'auto') return;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_WORKERS) {
        fail(field, value, `an integer from 1 to ${MAX_WORKERS}, or "auto" (one per core)`);
      }
      return;
    case 'userName':
      // POSIX portable user names (and the digits of a numeric uid).
      if (typeof value !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/.test(value)) fail(field, value, 'a user name, e.g. "nobody" or "synpool"');
      return;
    case 'socketPath':
      if (value === null) return;
      if (typeof value !== 'string' || !value.startsWith('/') || Buffer.byteLength(value) > MAX_SOCKET_PATH_BYTES || value.includes('\0')) {
        fail(field, value, `null or an absolute path of at most ${MAX_SOCKET_PATH_BYTES} bytes, e.g. "/run/synpool/keeper.sock"`);
      }
      return;
  }
}

function checkKnownKeys(layer: Record<string, unknown>, where: string): void {
  for (const key of Object.keys(layer)) {
    if (!Object.hasOwn(CONFIG_SCHEMA, key)) {
      throw new ConfigError(key, `unknown key${where}; allowed keys: ${Object.keys(CONFIG_SCHEMA).join(', ')}`);
    }
  }
}

/**
 * Merges defaults ← each layer in order (later wins; `pool`, `health` and `tls` are merged key by key),
 * validates the result against CONFIG_SCHEMA and deep-freezes it.
 */
export function validateConfig(...layers: unknown[]): SynpoolConfig {
  const merged: Record<string, unknown> = { ...DEFAULTS, trustedProxies: [...DEFAULTS.trustedProxies], pool: { ...DEFAULTS.pool }, health: { ...DEFAULTS.health }, tls: { ...DEFAULTS.tls } };
  for (const layer of layers) {
    if (layer === undefined || layer === null) continue;
    if (!isPlainObject(layer)) fail('(root)', layer, 'an object of settings');
    checkKnownKeys(layer, '');
    // A layer that names the upstream(s) replaces every earlier layer's: `--upstream URL`
    // overrides a file's `upstreams`, and the routes that belonged to them.
    if (layer.upstream !== undefined || layer.upstreams !== undefined) {
      delete merged.upstream;
      delete merged.upstreams;
      delete merged.routes;
    }
    for (const [key, value] of Object.entries(layer)) {
      if (value === undefined) continue;
      if (key === 'pool' || key === 'health' || key === 'tls') {
        if (!isPlainObject(value)) fail(key, value, 'an object');
        merged[key] = { ...(merged[key] as Record<string, unknown>), ...value };
      } else {
        // A copy: freezing the result must not freeze the caller's list.
        merged[key] = Array.isArray(value) ? [...(value as unknown[])] : value;
      }
    }
  }
  for (const [key, spec] of Object.entries(CONFIG_SCHEMA) as [string, FieldSpec][]) {
    checkField(key, spec, merged[key]);
  }
  // The pool's own rules (units, ranges, the backlog cap) live with the pool; checked here, at the edge.
  const { cap: _cap, ...pool } = resolvePoolSettings(merged.pool as PoolSettings, 'pool');
  checkFixedTarget(pool, 'pool');
  merged.pool = pool;
  const health = resolveHealthSettings(merged.health, 'health');
  merged.health = health;
  merged.tls = resolveTlsSettings(merged.tls as Record<string, unknown>);
  const single = merged.upstream;
  if (single !== undefined && single !== null && merged.upstreams !== undefined) {
    throw new ConfigError('upstreams', 'give either upstream (one URL) or upstreams (named groups), not both');
  }
  if ((single === undefined || single === null) && merged.upstreams === undefined) {
    throw new ConfigError('upstream', 'is required (e.g. upstream: "http://10.0.0.2:8080", --upstream URL, or upstreams: { app: { servers: [URL, …] } })');
  }
  const groups = single === undefined || single === null ? merged.upstreams : { [DEFAULT_UPSTREAM]: { servers: [single] } };
  merged.upstream = single ?? null;
  merged.upstreams = resolveUpstreamGroups(groups, pool, (field, value) => {
    parseUpstreamUrl(field, value);
    return value as string;
  }, health);
  merged.routes = resolveRoutes(merged.routes, merged.upstreams as Record<string, UpstreamGroupConfig>);
  return deepFreeze(merged as unknown as SynpoolConfigShape);
}

import { ConfigError } from '../errors.js';
import { resolvePoolSettings, type PoolDefaults, type PoolSettings } from '../pool/pool-config.js';
import { BALANCING_POLICIES, type BalancingPolicyName } from '../routing/balancing-policy.js';
import { compileRoutes, type RouteInput } from '../routing/route-table.js';
import { checkFixedTarget } from './pool-target.js';
import { HEALTH_DEFAULTS, resolveHealthSettings, type HealthSettings } from './health-settings.js';

/** One named upstream after validation: its servers, how requests are spread, its pool settings. */
export interface UpstreamGroupConfig {
  /** Upstream URLs (http:// or https://, an IP literal or a name, a port), each once. */
  servers: string[];
  balance: BalancingPolicyName;
  /** The top-level `pool` with this upstream's `pool` overrides on top, resolved (every field). */
  pool: PoolDefaults;
  /** The top-level `health` with this upstream's `health` overrides on top, resolved (every field). */
  health: HealthSettings;
}

/** The name `--upstream URL` (and the `upstream` key) gives its upstream. */
export const DEFAULT_UPSTREAM = 'default';

const GROUP_KEYS = ['servers', 'balance', 'pool', 'health'];
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Validates `upstreams` (a map of name → { servers, balance?, pool?, health? }) against the
 * top-level pool and health settings. `checkUrl` is the same URL check as the `upstream` key's.
 * A server belongs to one upstream: its pools are keyed by its addresses, and two
 * sets of pool settings for one address could not both hold (route several hosts or
 * paths to one upstream instead).
 */
export function resolveUpstreamGroups(
  input: unknown,
  topPool: PoolSettings,
  checkUrl: (field: string, value: unknown) => string,
  topHealth: Readonly<HealthSettings> = HEALTH_DEFAULTS,
): Record<string, UpstreamGroupConfig> {
  if (!isRecord(input) || Object.keys(input).length === 0) {
    throw new ConfigError('upstreams', `got ${JSON.stringify(input)}; allowed: a map of upstream names to { servers: [URL, …], balance?, pool?, health? }, at least one`);
  }
  const owner = new Map<string, string>();
  const out: Record<string, UpstreamGroupConfig> = {};
  for (const [name, value] of Object.entries(input)) {
    const at = `upstreams.${name}`;
    if (!NAME.test(name)) throw new ConfigError(at, 'an upstream name is letters, digits, ".", "_" or "-" (at most 63, starting with a letter or digit)');
    if (!isRecord(value)) throw new ConfigError(at, `got ${JSON.stringify(value)}; allowed: { servers: [URL, …], balance?, pool?, health? }`);
    for (const key of Object.keys(value)) {
      if (!GROUP_KEYS.includes(key)) throw new ConfigError(`${at}.${key}`, `unknown field; allowed: ${GROUP_KEYS.join(', ')}`);
    }
    const servers = value.servers;
    if (!Array.isArray(servers) || servers.length === 0) {
      throw new ConfigError(`${at}.servers`, `got ${JSON.stringify(servers)}; allowed: a non-empty list of http:// or https:// URLs`);
    }
    const seen = new Set<string>();
    const urls = servers.map((server: unknown, i) => {
      const field = `${at}.servers[${i}]`;
      const url = checkUrl(field, server);
      if (seen.has(url)) throw new ConfigError(field, `${url} is listed twice`);
      const other = owner.get(url);
      if (other !== undefined) {
        throw new ConfigError(field, `${url} is already a server of upstream ${JSON.stringify(other)}: a server belongs to one upstream (route to that upstream instead)`);
      }
      seen.add(url);
      owner.set(url, name);
      return url;
    });
    const balance = value.balance ?? 'round-robin';
    if (typeof balance !== 'string' || !(BALANCING_POLICIES as readonly string[]).includes(balance)) {
      throw new ConfigError(`${at}.balance`, `got ${JSON.stringify(balance)}; allowed: ${BALANCING_POLICIES.join(', ')}`);
    }
    if (value.pool !== undefined && !isRecord(value.pool)) throw new ConfigError(`${at}.pool`, `got ${JSON.stringify(value.pool)}; allowed: an object of pool settings`);
    const { cap: _cap, ...pool } = resolvePoolSettings({ ...topPool, ...(value.pool as PoolSettings | undefined) }, `${at}.pool`);
    checkFixedTarget(pool, `${at}.pool`);
    const health = resolveHealthSettings(value.health, `${at}.health`, topHealth);
    out[name] = { servers: urls, balance: balance as BalancingPolicyName, pool, health };
  }
  return out;
}

/**
 * Routes after validation; with one upstream and no routes, one catch-all route to it.
 * compileRoutes checks them (unknown upstream, unreachable route) and names the field.
 */
export function resolveRoutes(input: unknown, upstreams: Record<string, UpstreamGroupConfig>): RouteInput[] {
  const names = Object.keys(upstreams);
  if (input === undefined || input === null) {
    if (names.length === 1) return [{ upstream: names[0]! }];
    throw new ConfigError('routes', `is required with several upstreams (${names.join(', ')}): say which requests go where, e.g. [{ host: "api.example.com", upstream: "${names[0]}" }, { upstream: "${names[1]}" }]`);
  }
  compileRoutes(input, names);
  return (input as RouteInput[]).map((r) => ({ ...r }));
}

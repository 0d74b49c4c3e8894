import { ConfigError, SynpoolError } from '../errors.js';
import { endpointKey, parseEndpoint, type Endpoint } from '../handshake/endpoint.js';

/** How the ready target is chosen: from measured take() demand, or the fixed `targetSize`. */
export type SizingMode = 'demand' | 'fixed';

/**
 * One upstream's pool. Only `target` is required; every other field has a
 * default in POOL_DEFAULTS (units are in the names). docs/pool.md describes each.
 */
export interface UpstreamPoolConfig {
  target: Endpoint;
  sizing?: SizingMode;
  targetSize?: number;
  minSize?: number;
  maxSize?: number;
  upstreamBacklog?: number;
  fleetSize?: number;
  ttlMs?: number;
  refreshLeadMs?: number;
  synRatePerSec?: number;
  synBurst?: number;
  maxOpensPerTick?: number;
  synAckTimeoutMs?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  unreachableAfterFailures?: number;
  probeIntervalMs?: number;
  probeIntervalMaxMs?: number;
  expectedSynAckRetries?: number;
  synAckRetransmitFirstMs?: number;
  maxSynAckRetransmits?: number;
  demandWindowMs?: number;
  refillMarginMs?: number;
  safetyFactor?: number;
  burstEntries?: number;
  burstMemoryMs?: number;
  ttlLearnFactor?: number;
  ttlFloorMs?: number;
  ttlLearnMinSamples?: number;
  ttlLearnWindowMs?: number;
  ttlRecoveryMs?: number;
}

export type PoolDefaults = Required<Omit<UpstreamPoolConfig, 'target'>>;

export const POOL_DEFAULTS: Readonly<PoolDefaults> = Object.freeze({
  sizing: 'demand',
  targetSize: 8,
  minSize: 1,
  // Total half-open entries (ready + pending) per upstream: conservative on purpose.
  maxSize: 64,
  // Node's default listen backlog; the pool is capped at a quarter of it.
  upstreamBacklog: 511,
  // Replicas (synpool processes, each with its own pool) in front of this upstream:
  // they share its backlog, so each one's cap is a 1/fleetSize share of the quarter.
  fleetSize: 1,
  // The server keeps a SYN_RECV entry ~63 s (tcp_synack_retries=5); 13 s of margin.
  ttlMs: 50_000,
  refreshLeadMs: 5_000,
  // A pool serves at most this many takes per second (each hit is refilled):
  // it must sit well above the peak new-connection rate (bench/pool, docs/pool-bench.md).
  synRatePerSec: 200,
  synBurst: 50,
  maxOpensPerTick: 4,
  synAckTimeoutMs: 2_000,
  backoffBaseMs: 500,
  backoffMaxMs: 30_000,
  unreachableAfterFailures: 5,
  probeIntervalMs: 5_000,
  probeIntervalMaxMs: 60_000,
  // Linux tcp_synack_retries default; the server retransmits at ~1, 3, 7, 15, 31 s.
  expectedSynAckRetries: 5,
  // TCP_TIMEOUT_INIT: the first SYN-ACK retransmit comes ~1 s after the SYN-ACK, then doubling.
  synAckRetransmitFirstMs: 1_000,
  // Linux starts a passive connection with cwnd 1 instead of 10 once its SYN-ACK
  // went out more than twice (tcp_init_transfer: total_retrans > 1; our first
  // segment echoes TSecr 0, so tcp_try_undo_spurious_syn cannot undo it). An entry
  // is handed out first while the server has retransmitted at most this often.
  maxSynAckRetransmits: 1,
  demandWindowMs: 10_000,
  refillMarginMs: 100,
  safetyFactor: 2,
  burstEntries: 2,
  // Demand sizing keeps the largest burst of takes (within one refill time) seen this long:
  // bursts that recur within it find the pool ready for them.
  burstMemoryMs: 30_000,
  ttlLearnFactor: 0.8,
  ttlFloorMs: 2_000,
  ttlLearnMinSamples: 2,
  ttlLearnWindowMs: 60_000,
  ttlRecoveryMs: 30_000,
});

/** Fraction of the upstream's listen backlog the pool may occupy (well below the half that triggers pressure). */
export const BACKLOG_SHARE = 1 / 4;

/**
 * One replica's share of the backlog budget: floor(upstreamBacklog / fleetSize / 4).
 * N replicas in front of one upstream (a systemd unit on N hosts, a Deployment with
 * N pods) fill one SYN queue together, so the quarter is per fleet and each replica
 * takes 1/fleetSize of it.
 *
 * Only the cap takes the share. Nothing else is derived from upstreamBacklog: the
 * SYN pacing (synRatePerSec, synBurst, maxOpensPerTick) bounds how fast a replica
 * turns entries over, not how many the server holds at once. What the backlog
 * limits is the number of SYN_RECV entries queued at the same time, and every
 * entry a replica holds (ready or pending) counts against its cap whatever the
 * rate. Each replica serves its own clients' new connections, so dividing the rate
 * would cut each replica's pooled-connection throughput (a hit is refilled, and
 * the pool serves at most synRatePerSec takes/s) without keeping the queue any
 * shorter. A fleet's SYNs per second are fleetSize × synRatePerSec at most: size
 * synRatePerSec per replica, from each replica's peak new-connection rate.
 */
export function backlogShare(s: { readonly upstreamBacklog: number; readonly fleetSize: number }): number {
  return Math.floor(s.upstreamBacklog / (s.fleetSize / BACKLOG_SHARE));
}

/** A validated, frozen upstream configuration. */
export interface ResolvedPoolConfig extends Readonly<PoolDefaults> {
  readonly target: Endpoint;
  /** `address:port`, the upstream's name in stats and events. */
  readonly key: string;
  /** Hard limit on ready + pending: min(maxSize, floor(upstreamBacklog / fleetSize / 4)). */
  readonly cap: number;
}

const MS_DAY = 86_400_000;

type Rule =
  | { kind: 'int'; min: number; max: number; unit: string }
  | { kind: 'number'; min: number; max: number; unit: string; minExclusive?: boolean }
  | { kind: 'enum'; values: readonly string[] };

const RULES: { [K in keyof PoolDefaults]: Rule } = {
  sizing: { kind: 'enum', values: ['demand', 'fixed'] },
  targetSize: { kind: 'int', min: 0, max: 4096, unit: 'entries' },
  minSize: { kind: 'int', min: 0, max: 4096, unit: 'entries' },
  maxSize: { kind: 'int', min: 0, max: 4096, unit: 'entries' },
  upstreamBacklog: { kind: 'int', min: 1, max: 1 << 20, unit: 'requests' },
  fleetSize: { kind: 'int', min: 1, max: 10_000, unit: 'replicas sharing the upstream' },
  ttlMs: { kind: 'int', min: 1_000, max: 60_000, unit: 'ms (the server forgets an entry after ~63 s)' },
  refreshLeadMs: { kind: 'int', min: 0, max: 60_000, unit: 'ms' },
  synRatePerSec: { kind: 'number', min: 0, max: 100_000, unit: 'SYNs/s', minExclusive: true },
  synBurst: { kind: 'int', min: 1, max: 100_000, unit: 'SYNs' },
  maxOpensPerTick: { kind: 'int', min: 1, max: 4096, unit: 'SYNs' },
  synAckTimeoutMs: { kind: 'int', min: 1, max: 60_000, unit: 'ms' },
  backoffBaseMs: { kind: 'int', min: 1, max: MS_DAY, unit: 'ms' },
  backoffMaxMs: { kind: 'int', min: 1, max: MS_DAY, unit: 'ms' },
  unreachableAfterFailures: { kind: 'int', min: 1, max: 1_000, unit: 'failures' },
  probeIntervalMs: { kind: 'int', min: 1, max: MS_DAY, unit: 'ms' },
  probeIntervalMaxMs: { kind: 'int', min: 1, max: MS_DAY, unit: 'ms' },
  expectedSynAckRetries: { kind: 'int', min: 0, max: 10, unit: 'retransmits (0 turns the check off)' },
  synAckRetransmitFirstMs: { kind: 'int', min: 1, max: 60_000, unit: 'ms' },
  maxSynAckRetransmits: { kind: 'int', min: 0, max: 10, unit: 'retransmits (1 keeps the full initial window; 5 or more: entries live to their TTL)' },
  demandWindowMs: { kind: 'int', min: 1, max: MS_DAY, unit: 'ms' },
  refillMarginMs: { kind: 'int', min: 0, max: 60_000, unit: 'ms' },
  safetyFactor: { kind: 'number', min: 0, max: 1_000, unit: '' },
  burstEntries: { kind: 'int', min: 0, max: 4096, unit: 'entries' },
  burstMemoryMs: { kind: 'int', min: 0, max: MS_DAY, unit: 'ms (0: bursts are not remembered)' },
  ttlLearnFactor: { kind: 'number', min: 0, max: 1, unit: '', minExclusive: true },
  ttlFloorMs: { kind: 'int', min: 1, max: 60_000, unit: 'ms' },
  ttlLearnMinSamples: { kind: 'int', min: 1, max: 64, unit: 'observations' },
  ttlLearnWindowMs: { kind: 'int', min: 1, max: MS_DAY, unit: 'ms' },
  ttlRecoveryMs: { kind: 'int', min: 1, max: MS_DAY, unit: 'ms' },
};

const ALLOWED_FIELDS = ['target', ...Object.keys(RULES)] as const;

function describe(rule: Rule): string {
  switch (rule.kind) {
    case 'enum':
      return `one of ${rule.values.map((v) => `'${v}'`).join(', ')}`;
    case 'int':
      return `an integer in ${rule.min}..${rule.max}${rule.unit ? ` ${rule.unit}` : ''}`;
    case 'number':
      return `a number in ${rule.minExclusive ? '(' : '['}${rule.min}, ${rule.max}]${rule.unit ? ` ${rule.unit}` : ''}`;
  }
}

function fits(rule: Rule, v: unknown): boolean {
  switch (rule.kind) {
    case 'enum':
      return typeof v === 'string' && rule.values.includes(v);
    case 'int':
      return typeof v === 'number' && Number.isInteger(v) && v >= rule.min && v <= rule.max;
    case 'number':
      return (
        typeof v === 'number' && Number.isFinite(v) && (rule.minExclusive ? v > rule.min : v >= rule.min) && v <= rule.max
      );
  }
}

function show(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : String(v);
}

/** The pool settings shared by every upstream (all of UpstreamPoolConfig but the target). */
export type PoolSettings = Omit<UpstreamPoolConfig, 'target'>;

/**
 * Checks pool settings without a target (config files validate the `pool`
 * section before the upstream's address is resolved), fills the defaults.
 * Throws ConfigError naming the field (`${path}.field`), the value and what is allowed.
 */
export function resolvePoolSettings(input: PoolSettings, path = 'pool'): Readonly<PoolDefaults> & { cap: number } {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new ConfigError(path, `must be an object, got ${show(input)}`);
  for (const field of Object.keys(input)) {
    if (!(ALLOWED_FIELDS as readonly string[]).includes(field) || field === 'target') {
      throw new ConfigError(`${path}.${field}`, `unknown field; allowed: ${ALLOWED_FIELDS.filter((f) => f !== 'target').join(', ')}`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [field, rule] of Object.entries(RULES) as [keyof PoolDefaults, Rule][]) {
    const given = input[field];
    const value = given === undefined ? POOL_DEFAULTS[field] : given;
    if (!fits(rule, value)) throw new ConfigError(`${path}.${field}`, `must be ${describe(rule)}, got ${show(value)}`);
    out[field] = value;
  }
  const c = out as unknown as PoolDefaults;

  const pair = (lo: keyof PoolDefaults, hi: keyof PoolDefaults): void => {
    if ((c[lo] as number) > (c[hi] as number)) {
      throw new ConfigError(`${path}.${lo}`, `${c[lo]} must not exceed ${hi} (${c[hi]})`);
    }
  };
  pair('minSize', 'maxSize');
  pair('backoffBaseMs', 'backoffMaxMs');
  pair('probeIntervalMs', 'probeIntervalMaxMs');
  pair('ttlFloorMs', 'ttlMs');
  if (c.refreshLeadMs >= c.ttlMs) {
    throw new ConfigError(`${path}.refreshLeadMs`, `${c.refreshLeadMs} must be below ttlMs (${c.ttlMs})`);
  }
  const cap = Math.min(c.maxSize, backlogShare(c));
  if (c.minSize > cap) {
    const fleet = c.fleetSize > 1 ? ' (the fleet shares it)' : '';
    throw new ConfigError(
      `${path}.minSize`,
      `${c.minSize} exceeds the cap ${cap} = min(maxSize ${c.maxSize}, floor(upstreamBacklog ${c.upstreamBacklog} / fleetSize ${c.fleetSize} / 4)); ` +
        `a pool must stay well below half of what the upstream can queue${fleet}`,
    );
  }
  return Object.freeze({ ...c, cap });
}

/**
 * Checks one upstream's config, fills the defaults and freezes the result.
 * Throws ConfigError naming the field (`${path}.field`), the value and what is allowed.
 */
export function resolvePoolConfig(input: UpstreamPoolConfig, path = 'upstream'): ResolvedPoolConfig {
  if (input === null || typeof input !== 'object') throw new ConfigError(path, `must be an object, got ${show(input)}`);
  const { target: t, ...settings } = input as UpstreamPoolConfig & { target: Partial<Endpoint> | undefined };
  if (t === null || typeof t !== 'object') {
    throw new ConfigError(`${path}.target`, `must be { address, port }, got ${show(t)}`);
  }
  let target: Endpoint;
  try {
    target = parseEndpoint(t.address as string, t.port as number);
  } catch (err) {
    const why = err instanceof SynpoolError ? err.message : String(err);
    throw new ConfigError(`${path}.target`, `${show(t.address)}:${show(t.port)} is not usable: ${why}`);
  }
  const c = resolvePoolSettings(settings, path);
  return Object.freeze({ ...c, target: Object.freeze({ ...target }), key: endpointKey(target) });
}

/** Resolves a list of upstreams; each target may appear only once. */
export function resolvePoolConfigs(inputs: readonly UpstreamPoolConfig[]): ResolvedPoolConfig[] {
  if (!Array.isArray(inputs)) throw new ConfigError('upstreams', `must be an array, got ${show(inputs)}`);
  const seen = new Map<string, number>();
  return inputs.map((input, i) => {
    const resolved = resolvePoolConfig(input, `upstreams[${i}]`);
    const earlier = seen.get(resolved.key);
    if (earlier !== undefined) {
      throw new ConfigError(`upstreams[${i}].target`, `${resolved.key} is already configured by upstreams[${earlier}]`);
    }
    seen.set(resolved.key, i);
    return resolved;
  });
}

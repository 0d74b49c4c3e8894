import { POOL_DEFAULTS, type PoolSettings } from './pool-config.js';

/**
 * The pool settings that are an upstream's total, split across the addresses its
 * servers resolve to. Everything else (upstreamBacklog above all: each server has
 * its own listen backlog, and the quarter-of-it guard holds per server; pacing,
 * TTLs, burstEntries) applies to every address as given.
 */
export const SPLIT_FIELDS = ['targetSize', 'minSize', 'maxSize'] as const;

/**
 * One address's share of an upstream-wide `total`: the upstream's budget is split by
 * each address's share of demand (issue 9). Every balancing policy (round-robin,
 * least-requests, random) gives each of the upstream's `servers` an equal share of its
 * requests over time, and a server spreads its share evenly over its `addresses`
 * (OriginBalancer), so an address's share is 1 / (servers × addresses). Rounded up:
 * each address keeps at least 1 of any positive total, and the sum over all addresses
 * exceeds the total by less than the number of addresses (the rounding), never more.
 */
export function addressShare(total: number, servers: number, addresses: number): number {
  if (!(total > 0)) return 0;
  return Math.ceil(total / (Math.max(1, servers) * Math.max(1, addresses)));
}

/**
 * The settings one address of a server gets: `settings` (its upstream's, an upstream-wide
 * budget) with SPLIT_FIELDS replaced by addressShare (an unset field splits its default).
 * With one server of one address it is the settings unchanged. Under demand sizing each
 * pool's target already follows its own address's measured demand, i.e. its share of the
 * upstream's; only the bounds (minSize, maxSize) are split there so that they hold for the
 * upstream in total (targetSize is split too, but demand sizing does not read it).
 */
export function splitPoolSettings<T extends PoolSettings>(settings: T, servers: number, addresses: number): T {
  const out: Record<string, unknown> = { ...settings };
  for (const field of SPLIT_FIELDS) out[field] = addressShare(settings[field] ?? POOL_DEFAULTS[field], servers, addresses);
  return out as T;
}

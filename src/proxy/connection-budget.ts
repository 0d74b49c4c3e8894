import { InvalidArgumentError } from '../errors.js';

/** How AcceleratedAgent's two inner agents share one cap on upstream connections. */
export interface ConnectionBudget {
  /** First attempts (keep-alive reuse, then pooled or plain connects). */
  readonly accelerated: number | null;
  /** Replays of a failed first attempt, always on a fresh plain connection. */
  readonly replay: number | null;
}

/** The replay agent's share of the cap: one connection in eight, at least one. */
export const REPLAY_SHARE = 1 / 8;

/**
 * Splits `maxUpstreamConnections` between the two agents so that together they
 * never hold more than `total` connections to an origin (each undici Agent
 * enforces its own `connections`, so giving both the full cap doubled it).
 * A static split rather than a shared counter: undici decides when to open a
 * connection inside its Pool, and a counter outside it could only make a
 * connect wait or fail, for up to an idle connection's keep-alive timeout.
 * Replays are rare (a pooled entry the server forgot, a connection lost
 * before any response byte), so they get a small share; when many happen at
 * once they queue on it instead of growing past the cap.
 * null (unbounded) stays unbounded on both. A cap of 1 cannot be split.
 */
export function splitConnectionBudget(total: number | null): ConnectionBudget {
  if (total === null) return { accelerated: null, replay: null };
  if (!Number.isInteger(total) || total < 2) {
    throw new InvalidArgumentError(
      `connections must be an integer ≥ 2 or null, got ${String(total)}: at least one for first attempts and one for replays on a plain connection`,
    );
  }
  const replay = Math.max(1, Math.floor(total * REPLAY_SHARE));
  return { accelerated: total - replay, replay };
}

/** Of the first attempts' share, what undici keeps when the lean exchange runs (bodies, https, upgrades, HEAD): one in four, at least one. */
export const STREAMED_SHARE = 1 / 4;

/** The first attempts' share split between the lean exchange (lean-pool.ts) and undici. */
export interface FirstAttemptBudget {
  /** Bodiless GET/DELETE/OPTIONS to http origins; 0 = the lean exchange is off. */
  readonly lean: number | null;
  /** Everything else on undici. */
  readonly streamed: number | null;
}

/**
 * Like the replay share, a static split: each side enforces its own cap, and together
 * they stay within the first attempts' share. Requests without a body are most of a
 * proxy's traffic, so the lean side gets three quarters. A share below 2 is not split:
 * undici keeps it and the lean exchange is off.
 */
export function splitFirstAttempts(share: number | null): FirstAttemptBudget {
  if (share === null) return { lean: null, streamed: null };
  if (share < 2) return { lean: 0, streamed: share };
  const streamed = Math.max(1, Math.floor(share * STREAMED_SHARE));
  return { lean: share - streamed, streamed };
}

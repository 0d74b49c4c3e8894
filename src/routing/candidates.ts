import type { ServerState } from './server-state.js';

/**
 * Which servers a pick chooses among. Keep-alive reuse first: when at least one
 * available server has an idle keep-alive connection, only those servers are
 * candidates ('warm'), and the policy applies its own rule among them; otherwise every
 * available server is ('available'). A warm connection costs no handshake at all, so
 * at low concurrency traffic stays on the servers that are warm; the policy spreads it
 * once several are. undefined: no server is available.
 */
export type CandidateRule = 'warm' | 'available';

export function candidateRule(servers: readonly ServerState[], keepAliveFirst: boolean): CandidateRule | undefined {
  let any = false;
  for (const s of servers) {
    if (!s.available) continue;
    if (!keepAliveFirst || s.idle > 0) return keepAliveFirst ? 'warm' : 'available';
    any = true;
  }
  return any ? 'available' : undefined;
}

export function isCandidate(s: ServerState, rule: CandidateRule): boolean {
  return s.available && (rule === 'available' || s.idle > 0);
}

export function countCandidates(servers: readonly ServerState[], rule: CandidateRule): number {
  let n = 0;
  for (const s of servers) if (isCandidate(s, rule)) n += 1;
  return n;
}

/** The n-th candidate (0-based) in list order; n must be below countCandidates. */
export function nthCandidate(servers: readonly ServerState[], rule: CandidateRule, n: number): ServerState {
  let left = n;
  for (const s of servers) {
    if (!isCandidate(s, rule)) continue;
    if (left === 0) return s;
    left -= 1;
  }
  throw new RangeError(`candidate ${n} of fewer`);
}

/**
 * The shared part of every policy: find the candidate rule and count, then let the
 * policy choose one of the `count` candidates.
 */
export abstract class CandidatePolicy {
  constructor(private readonly keepAliveFirst: boolean) {}

  pick(servers: readonly ServerState[]): ServerState | undefined {
    for (const s of servers) if (s.probing === true && s.available) return s;
    const rule = candidateRule(servers, this.keepAliveFirst);
    if (rule === undefined) return undefined;
    return this.choose(servers, rule, countCandidates(servers, rule));
  }

  /** `count` ≥ 1 candidates under `rule`. */
  protected abstract choose(servers: readonly ServerState[], rule: CandidateRule, count: number): ServerState | undefined;
}

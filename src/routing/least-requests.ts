import { candidateRule, countCandidates, nthCandidate } from './candidates.js';
import type { BalancingPolicy } from './balancing-policy.js';
import { randomIndex, type RandomSource, type ServerState } from './server-state.js';

/**
 * Power of two choices: two distinct candidates at random, the one with fewer
 * requests in flight (the first drawn on a tie). Nearly as good as scanning for the
 * least loaded, without every proxy herding onto the same server (Mitzenmacher 2001;
 * Envoy's LEAST_REQUEST).
 */
export class LeastRequests implements BalancingPolicy {
  readonly name = 'least-requests';

  constructor(
    private readonly random: RandomSource = Math.random,
    private readonly keepAliveFirst = true,
  ) {}

  pick(servers: readonly ServerState[]): ServerState | undefined {
    const rule = candidateRule(servers, this.keepAliveFirst);
    if (rule === undefined) return undefined;
    const n = countCandidates(servers, rule);
    const a = randomIndex(this.random, n);
    if (n === 1) return nthCandidate(servers, rule, a);
    let b = randomIndex(this.random, n - 1);
    if (b >= a) b += 1;
    const first = nthCandidate(servers, rule, a);
    const second = nthCandidate(servers, rule, b);
    return second.inFlight < first.inFlight ? second : first;
  }
}

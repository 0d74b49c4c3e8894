import { CandidatePolicy, nthCandidate, type CandidateRule } from './candidates.js';
import type { BalancingPolicy } from './balancing-policy.js';
import { randomIndex, type RandomSource, type ServerState } from './server-state.js';

/**
 * Power of two choices: two distinct candidates at random, the one with fewer
 * requests in flight (the first drawn on a tie). Nearly as good as scanning for the
 * least loaded, without every proxy herding onto the same server (Mitzenmacher 2001;
 * Envoy's LEAST_REQUEST).
 */
export class LeastRequests extends CandidatePolicy implements BalancingPolicy {
  readonly name = 'least-requests';

  constructor(private readonly random: RandomSource, keepAliveFirst: boolean) {
    super(keepAliveFirst);
  }

  protected choose(servers: readonly ServerState[], rule: CandidateRule, count: number): ServerState {
    const a = randomIndex(this.random, count);
    const first = nthCandidate(servers, rule, a);
    if (count === 1) return first;
    let b = randomIndex(this.random, count - 1);
    if (b >= a) b += 1;
    const second = nthCandidate(servers, rule, b);
    return second.inFlight < first.inFlight ? second : first;
  }
}

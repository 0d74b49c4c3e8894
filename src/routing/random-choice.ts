import { CandidatePolicy, nthCandidate, type CandidateRule } from './candidates.js';
import type { BalancingPolicy } from './balancing-policy.js';
import { randomIndex, type RandomSource, type ServerState } from './server-state.js';

/** A candidate chosen uniformly: no shared state, so several proxies do not fall into step. */
export class RandomChoice extends CandidatePolicy implements BalancingPolicy {
  readonly name = 'random';

  constructor(private readonly random: RandomSource, keepAliveFirst: boolean) {
    super(keepAliveFirst);
  }

  protected choose(servers: readonly ServerState[], rule: CandidateRule, count: number): ServerState {
    return nthCandidate(servers, rule, randomIndex(this.random, count));
  }
}

import { candidateRule, countCandidates, nthCandidate } from './candidates.js';
import type { BalancingPolicy } from './balancing-policy.js';
import { randomIndex, type RandomSource, type ServerState } from './server-state.js';

/** A candidate chosen uniformly: no shared state, so several proxies do not fall into step. */
export class RandomChoice implements BalancingPolicy {
  readonly name = 'random';

  constructor(
    private readonly random: RandomSource = Math.random,
    private readonly keepAliveFirst = true,
  ) {}

  pick(servers: readonly ServerState[]): ServerState | undefined {
    const rule = candidateRule(servers, this.keepAliveFirst);
    if (rule === undefined) return undefined;
    return nthCandidate(servers, rule, randomIndex(this.random, countCandidates(servers, rule)));
  }
}

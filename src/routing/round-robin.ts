import { CandidatePolicy, isCandidate, type CandidateRule } from './candidates.js';
import type { BalancingPolicy } from './balancing-policy.js';
import type { ServerState } from './server-state.js';

/** Each candidate in list order, resuming after the last one picked. */
export class RoundRobin extends CandidatePolicy implements BalancingPolicy {
  readonly name = 'round-robin';
  /** Index in the servers list to start the next search at. */
  #next = 0;

  protected choose(servers: readonly ServerState[], rule: CandidateRule): ServerState | undefined {
    const n = servers.length;
    for (let k = 0; k < n; k++) {
      const i = (this.#next + k) % n;
      const s = servers[i]!;
      if (isCandidate(s, rule)) {
        this.#next = (i + 1) % n;
        return s;
      }
    }
    return undefined;
  }
}

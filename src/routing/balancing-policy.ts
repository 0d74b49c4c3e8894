import { InvalidArgumentError } from '../errors.js';
import { LeastRequests } from './least-requests.js';
import { RandomChoice } from './random-choice.js';
import { RoundRobin } from './round-robin.js';
import type { RandomSource, ServerState } from './server-state.js';

export const BALANCING_POLICIES = ['round-robin', 'least-requests', 'random'] as const;
export type BalancingPolicyName = (typeof BALANCING_POLICIES)[number];

/**
 * Chooses the server of an upstream for one request. Only available servers are ever
 * picked; keep-alive reuse comes first (src/routing/candidates.ts says exactly how).
 * undefined when no server is available: the caller answers 503 rather than sending
 * a request to an ejected server.
 */
export interface BalancingPolicy {
  readonly name: BalancingPolicyName;
  pick(servers: readonly ServerState[]): ServerState | undefined;
}

export interface BalancingOptions {
  /** Default Math.random. */
  readonly random?: RandomSource;
  /** Prefer servers with an idle keep-alive connection. Default true. */
  readonly keepAliveFirst?: boolean;
}

export function createBalancingPolicy(name: BalancingPolicyName, options: BalancingOptions = {}): BalancingPolicy {
  const random = options.random ?? Math.random;
  const keepAliveFirst = options.keepAliveFirst ?? true;
  switch (name) {
    case 'round-robin':
      return new RoundRobin(keepAliveFirst);
    case 'least-requests':
      return new LeastRequests(random, keepAliveFirst);
    case 'random':
      return new RandomChoice(random, keepAliveFirst);
    default:
      throw new InvalidArgumentError(`unknown balancing policy ${JSON.stringify(name)}; allowed: ${BALANCING_POLICIES.join(', ')}`);
  }
}

export { PoolManager, type PoolManagerOptions } from './pool-manager.js';
export { UpstreamPool } from './upstream-pool.js';
export {
  POOL_DEFAULTS,
  BACKLOG_SHARE,
  backlogShare,
  resolvePoolConfig,
  resolvePoolConfigs,
  type UpstreamPoolConfig,
  type ResolvedPoolConfig,
  type SizingMode,
} from './pool-config.js';
export type { PoolEvents, PoolSnapshot, OpenPurpose, MissReason, SynFailure } from './pool-events.js';
export { EVICT_REASONS, RTT_BUCKET_BOUNDS_MS, type EvictReason, type RttSnapshot } from './pool-stats.js';
export type { UpstreamState } from './backoff.js';
export { realClock, FakeClock, type Clock, type TimerHandle } from './clock.js';

import { ConfigError } from '../errors.js';
import { backlogShare, type PoolDefaults } from '../pool/pool-config.js';

/**
 * With fixed sizing, a targetSize above the pool's cap would be clamped to the
 * cap without a word (the pool never exceeds min(maxSize, upstreamBacklog / fleetSize / 4)),
 * so `--pool-size 1000` would silently mean 64. At the config edge that is an
 * error naming the bound and how to move it. The pool itself still clamps:
 * library users who build a PoolManager directly keep the documented cap.
 */
export function checkFixedTarget(pool: Readonly<PoolDefaults>, path = 'pool'): void {
  if (pool.sizing !== 'fixed') return;
  const backlogCap = backlogShare(pool);
  const cap = Math.min(pool.maxSize, backlogCap);
  if (pool.targetSize <= cap) return;
  const lower = `or lower --pool-size / ${path}.targetSize`;
  // With a fleet, the quarter is shared: name the divisor so the number adds up.
  const quarter =
    pool.fleetSize > 1
      ? `a quarter of ${path}.upstreamBacklog ${pool.upstreamBacklog} shared by ${path}.fleetSize ${pool.fleetSize}`
      : `a quarter of ${path}.upstreamBacklog ${pool.upstreamBacklog}`;
  if (pool.maxSize <= backlogCap) {
    throw new ConfigError(
      `${path}.targetSize`,
      `${pool.targetSize} > ${path}.maxSize ${pool.maxSize}: raise ${path}.maxSize (at most ${backlogCap}, ${quarter}) ${lower}`,
    );
  }
  throw new ConfigError(
    `${path}.targetSize`,
    `${pool.targetSize} > ${cap}, ${quarter} (a pool stays well below what the upstream can queue): ` +
      `set ${path}.upstreamBacklog to the upstream's real listen backlog if it is larger, ${lower}`,
  );
}

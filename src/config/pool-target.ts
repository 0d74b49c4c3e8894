import { ConfigError } from '../errors.js';
import { BACKLOG_SHARE, type PoolDefaults } from '../pool/pool-config.js';

/**
 * With fixed sizing, a targetSize above the pool's cap would be clamped to the
 * cap without a word (the pool never exceeds min(maxSize, upstreamBacklog / 4)),
 * so `--pool-size 1000` would silently mean 64. At the config edge that is an
 * error naming the bound and how to move it. The pool itself still clamps:
 * library users who build a PoolManager directly keep the documented cap.
 */
export function checkFixedTarget(pool: Readonly<PoolDefaults>, path = 'pool'): void {
  if (pool.sizing !== 'fixed') return;
  const backlogCap = Math.floor(pool.upstreamBacklog * BACKLOG_SHARE);
  const cap = Math.min(pool.maxSize, backlogCap);
  if (pool.targetSize <= cap) return;
  const lower = `or lower --pool-size / ${path}.targetSize`;
  if (pool.maxSize <= backlogCap) {
    throw new ConfigError(
      `${path}.targetSize`,
      `${pool.targetSize} > ${path}.maxSize ${pool.maxSize}: raise ${path}.maxSize (at most ${backlogCap}, a quarter of ${path}.upstreamBacklog ${pool.upstreamBacklog}) ${lower}`,
    );
  }
  throw new ConfigError(
    `${path}.targetSize`,
    `${pool.targetSize} > ${cap}, a quarter of ${path}.upstreamBacklog ${pool.upstreamBacklog} (a pool stays well below what the upstream can queue): ` +
      `set ${path}.upstreamBacklog to the upstream's real listen backlog if it is larger, ${lower}`,
  );
}

// The keeper: the only process with CAP_NET_RAW and CAP_NET_ADMIN. It owns the
// raw SYN channel, the port reservations, the pools and the TCP_REPAIR handoff, and
// hands ESTABLISHED sockets over its Unix socket (docs/keeper-protocol.md). It
// parses no HTTP: its only input is the protocol's one-line JSON requests.
import { Registry } from 'prom-client';
import type { SynpoolConfig } from '../config/schema.js';
import { KeeperServer } from '../keeper/keeper-server.js';
import { createLogger, SharedLineDestination } from '../observability/logger.js';
import { attachPoolLog } from '../observability/pool-log.js';
import { attachPoolMetrics, registerAccelerationGauge } from '../observability/pool-metrics.js';
import { attachResolveLog } from '../observability/resolve-log.js';
import { createResolveMetrics } from '../observability/resolve-metrics.js';
import { attachKeeperLog, attachKeeperMetrics } from '../observability/keeper-observers.js';
import type { PoolSettings } from '../pool/pool-config.js';
import { plainConnectionSource, type ConnectionSource } from '../proxy/connection-source.js';
import { createPoolSource, PoolConnectionSource } from '../proxy/pool-source.js';
import { systemLookup } from '../resolve/address-lookup.js';
import { onMessage, send } from './ipc-channel.js';
import type { StartMessage } from './messages.js';
import { KeeperPools } from './keeper-pools.js';
import { settleKeeperCapabilities } from './privileges.js';
import { filterMode, useFilterPrograms } from '../handshake/socket-filters.js';
import { collectProcessMetrics } from '../observability/process-metrics.js';

export async function runKeeper(start: StartMessage): Promise<void> {
  settleKeeperCapabilities();
  let config: SynpoolConfig = start.config;
  const logger = createLogger(config.logLevel, config.logLevel === 'silent' ? undefined : new SharedLineDestination()).child({ process: 'keeper' });
  if (start.filterProgramFds !== undefined) useFilterPrograms(start.filterProgramFds);
  if (config.accel) {
    const filters = filterMode();
    logger.info(filters, filters.mode === 'ebpf' ? 'socket filters: eBPF programs, attached by fd' : 'socket filters: classic BPF, compiled on every attach');
  }
  const registry = new Registry();
  collectProcessMetrics(registry);

  let source: ConnectionSource = plainConnectionSource;
  if (config.accel) {
    source = createPoolSource([], config.pool as PoolSettings, { start: false });
    const disabled = (source as { disabledReason?: string }).disabledReason;
    if (disabled !== undefined) logger.warn({ reason: disabled }, `acceleration is off (${disabled}); serving with plain connects`);
  }
  registerAccelerationGauge(registry, source.accelerated);
  const resolveMetrics = createResolveMetrics(registry);
  const pools = await KeeperPools.create(config, source, systemLookup, (addresses) => [attachResolveLog(logger, addresses), resolveMetrics.follow(addresses)]);
  const detach: Array<() => void> = [];
  if (source instanceof PoolConnectionSource) detach.push(attachPoolMetrics(registry, source.pool, source), attachPoolLog(logger, source.pool));

  const server = new KeeperServer({
    path: start.keeperSocket,
    mode: start.socketMode,
    source,
    targetsFor: (host, port) => pools.targetsFor(host, port),
  });
  detach.push(attachKeeperLog(logger, server), attachKeeperMetrics(registry, server));
  if (source instanceof PoolConnectionSource) {
    // The workers pass over an address its pool finds unreachable, as the single process does.
    const pool = source.pool;
    const onState = (): void => server.setUnreachable(pool.upstreams.filter((u) => pool.reachable(u.target) === false).map((u) => u.key));
    pool.on('upstream-state', onState);
    // A worker goes plain at once for what its last ready count says is not there: rises are told.
    const onReady = (): void => server.readyChanged();
    pool.on('entry-ready', onReady);
    detach.push(() => {
      pool.off('upstream-state', onState);
      pool.off('entry-ready', onReady);
    });
  }
  await server.listen();
  source.start?.();
  pools.start();
  logger.info({ socket: start.keeperSocket, accelerated: source.accelerated }, 'keeper serving');

  let stopping = false;
  const stop = async (reason: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'keeper stopping');
    await server.close();
    pools.close();
    await source.close?.();
    for (const d of detach) d();
    logger.flush();
    process.exit(0);
  };
  let reloading = Promise.resolve();
  onMessage((m) => {
    switch (m.type) {
      case 'reload':
        reloading = reloading.then(async () => {
          try {
            await pools.reload(m.config);
            if (m.config.logLevel !== config.logLevel) logger.level = m.config.logLevel;
            config = m.config;
            send({ type: 'reloaded', outcome: { ok: true, changed: [], restartNeeded: [] } });
          } catch (err) {
            send({ type: 'reloaded', outcome: { ok: false, error: (err as Error).message } });
          }
        });
        return;
      case 'drain':
        void stop(m.reason);
        return;
      case 'collect':
        void registry.getMetricsAsJSON().then((metrics) => send({ type: 'collected', id: m.id, metrics }));
        return;
      default:
        return;
    }
  });
  process.on('disconnect', () => void stop('supervisor gone'));
  send({ type: 'ready', accelerated: source.accelerated });
}

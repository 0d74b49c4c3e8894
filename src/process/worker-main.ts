// A worker: the HTTP proxy (serve()) on its share of the front port, with new
// upstream connections asked of the keeper. It holds no privilege (checked before
// it serves) and answers to the supervisor: reload, drain, metrics.
import { Registry } from 'prom-client';
import { serve, type RunningSynpool } from '../cli.js';
import type { SynpoolConfig } from '../config/schema.js';
import { KeeperConnectionSource } from '../keeper/keeper-source.js';
import { createLogger, SharedLineDestination } from '../observability/logger.js';
import { ScrapeRequests, onMessage, send } from './ipc-channel.js';
import type { ParentMessage, StartMessage } from './messages.js';
import { checkWorkerPrivileges } from './worker-guard.js';
import { attachKeeperClientObservers } from '../observability/keeper-observers.js';
import { collectProcessMetrics } from '../observability/process-metrics.js';

/** A scrape waits this long for the aggregate before it fails (Prometheus's default timeout is 10 s). */
const SCRAPE_TIMEOUT_MS = 5_000;

export async function runWorker(start: StartMessage): Promise<void> {
  let config: SynpoolConfig = start.config;
  const logger = createLogger(config.logLevel, config.logLevel === 'silent' ? undefined : new SharedLineDestination()).child({ worker: start.id });
  const privileges = checkWorkerPrivileges(start.expectNonRoot);
  logger.info(privileges, 'worker privileges');
  const registry = new Registry();
  collectProcessMetrics(registry);
  const scrapes = new ScrapeRequests();
  let running: RunningSynpool | undefined;
  const pending: ParentMessage[] = [];
  const handle = (m: ParentMessage): void => {
    if (running === undefined) {
      pending.push(m);
      return;
    }
    const r = running;
    switch (m.type) {
      case 'reload':
        config = m.config;
        void r.reload().then((outcome) => send({ type: 'reloaded', outcome }));
        return;
      case 'drain':
        void r.shutdown(m.reason).then(() => process.exit(0));
        return;
      case 'collect':
        void registry.getMetricsAsJSON().then((metrics) => send({ type: 'collected', id: m.id, metrics }));
        return;
      case 'metrics':
        scrapes.answer(m.id, m.text);
        return;
      case 'start':
        return;
    }
  };
  onMessage(handle);
  // The supervisor is gone (killed): nobody restarts or drains us; finish what is in flight and go.
  process.on('disconnect', () => void (running?.shutdown('supervisor gone') ?? Promise.resolve()).then(() => process.exit(0)));

  const source = new KeeperConnectionSource({ path: start.keeperSocket, hold: config.accel ? config.heldPerWorker : 0 });
  attachKeeperClientObservers(logger, registry, source);
  running = await serve(config, {
    logger,
    registry,
    handleSignals: false,
    createSource: () => source,
    loadConfig: () => config,
    ...(start.listenFd === undefined ? {} : { listenFd: start.listenFd }),
    ...(start.metricsFd === undefined ? {} : { metricsFd: start.metricsFd }),
    metricsText: () => scrapes.request(SCRAPE_TIMEOUT_MS),
    servingMessage: 'worker serving',
    logReload: false,
    accelerationGauge: false,
  });
  const a = running.address;
  const m = running.metricsAddress;
  send({ type: 'ready', listen: `${a.address}:${a.port}`, metrics: m === undefined ? null : `${m.address}:${m.port}` });
  for (const msg of pending.splice(0)) handle(msg);
}

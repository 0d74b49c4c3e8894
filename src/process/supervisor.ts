// `synpool` as a service: the supervisor. It binds the listeners, becomes the
// service user, starts the keeper (with CAP_NET_RAW + CAP_NET_ADMIN, nothing
// else) and the workers (nothing at all), and from then on only supervises:
// restarts, SIGHUP (reload all), SIGTERM (drain all), the metrics aggregate. It
// parses no request, no response and no client input.
import { accessSync, chownSync, constants as fsConstants, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { ReloadOutcome } from '../cli.js';
import { resolveUpstream } from '../config/load-config.js';
import { diffConfig } from '../config/config-diff.js';
import type { SynpoolConfig } from '../config/schema.js';
import { ConfigError, ProcessStartError } from '../errors.js';
import { createLogger, SharedLineDestination, type Logger } from '../observability/logger.js';
import { logReloadOutcome } from '../observability/reload-log.js';
import { resolveServers } from '../proxy/routing-builder.js';
import { upstreamTlsOptions } from '../config/upstream-tls-options.js';
import { systemLookup, type AddressLookup } from '../resolve/address-lookup.js';
import { ChildSlot } from './child-slot.js';
import { openListeners, type ListenSockets } from './listen-sockets.js';
import type { MetricsJson, StartMessage } from './messages.js';
import { canChangeUser, dropPrivileges, serviceUser, withAmbientCaps } from './privileges.js';
import { loadFilterPrograms } from '../handshake/socket-filters.js';
import { unreadableAt } from './readable-by.js';

/** How long a scrape waits for each process's metrics. */
const COLLECT_TIMEOUT_MS = 2_000;
/** The keeper and the workers must be serving within this at start. */
const START_TIMEOUT_MS = 30_000;
/** The keeper drains last: by then no worker asks it for anything. */
const KEEPER_STOP_MS = 5_000;
/** Workers get shutdownTimeoutMs to drain, and this much more to exit. */
const EXIT_GRACE_MS = 3_000;

export interface SupervisorOptions {
  /** Re-reads the configuration (the file and the same flags) for SIGHUP; throws ConfigError. */
  loadConfig: () => SynpoolConfig;
  /** The config file, to warn at start when the service user cannot read it (a reload would fail). */
  configFile?: string;
  lookup?: AddressLookup;
  logger?: Logger;
  /** SIGTERM/SIGINT drain, SIGHUP reloads. Default true. */
  handleSignals?: boolean;
}

export interface RunningSupervisor {
  readonly listen: string;
  readonly metrics: string | null;
  readonly workers: number;
  reload(): Promise<ReloadOutcome>;
  shutdown(reason?: string): Promise<void>;
  readonly stopped: Promise<void>;
}

/** The keeper/worker entry, built (dist): a supervisor imported from the TypeScript sources (tests) forks the build. */
export function childEntry(): string {
  const here = fileURLToPath(new URL('./child.js', import.meta.url));
  if (import.meta.url.endsWith('.ts')) return here.replace(/\/src\/process\/child\.js$/, '/dist/src/process/child.js');
  return here;
}

/** A file of the native dependency the keeper and workers load (koffi's main module). */
function koffiEntry(): string {
  return createRequire(import.meta.url).resolve('koffi');
}

/** What the children would find wrong with a config, found once here: names that do not resolve, an unreadable tls.ca. */
async function checkConfig(config: SynpoolConfig, lookup: AddressLookup): Promise<void> {
  upstreamTlsOptions(config.tls);
  await resolveServers(config, (url) => resolveUpstream(url, lookup));
}

export function workerCount(config: SynpoolConfig): number {
  return config.workers === 'auto' ? availableParallelism() : config.workers;
}

export async function runSupervisor(initial: SynpoolConfig, options: SupervisorOptions): Promise<RunningSupervisor> {
  let config = initial;
  const logger = options.logger ?? createLogger(config.logLevel, config.logLevel === 'silent' ? undefined : new SharedLineDestination()).child({ process: 'supervisor' });
  const lookup = options.lookup ?? systemLookup;
  // Every server name must resolve and tls.ca must read now (exit 2), before anything is bound or forked.
  await checkConfig(config, lookup);
  const n = workerCount(config);
  const asRoot = process.getuid?.() === 0;
  const entry = childEntry();
  // uid 0 without CAP_SETUID/CAP_SETGID (a container that adds only NET_RAW and NET_ADMIN) cannot change user.
  const canSwitch = asRoot && canChangeUser();
  if (asRoot && !canSwitch) {
    logger.warn({ user: config.user }, `cannot become ${config.user} (no CAP_SETUID/CAP_SETGID): every process stays uid 0, the workers still with no capability`);
  }
  let user = canSwitch ? serviceUser(config.user) : undefined;
  const blocked = user === undefined ? undefined : (unreadableAt(entry, user) ?? unreadableAt(koffiEntry(), user));
  if (user !== undefined && blocked !== undefined) {
    // Refusing would make a clone in /root unusable as root; running the children as
    // root without a capability is the lesser evil, and said loudly.
    logger.warn(
      { user: user.name, path: blocked },
      `${user.name} cannot read synpool's code (${blocked}): the keeper and the workers stay uid 0, the workers still with no capability; install synpool where ${user.name} can read it`,
    );
    user = undefined;
  }

  const front = await openListeners('listen', config.listen, n, true);
  let metrics: ListenSockets | undefined;
  let socketDir: string | undefined;
  try {
    if (config.metricsListen !== null) metrics = await openListeners('metricsListen', config.metricsListen, 1, false);
    if (config.keeperSocket === null) {
      // The workers' private way to the keeper: a directory only the service user enters.
      socketDir = mkdtempSync(join(tmpdir(), 'synpool-'));
      if (user !== undefined) chownSync(socketDir, user.uid, user.gid);
    }
  } catch (err) {
    front.close();
    metrics?.close();
    throw err;
  }
  const keeperSocket = config.keeperSocket ?? join(socketDir!, 'keeper.sock');
  // Loading an eBPF program takes CAP_BPF or CAP_SYS_ADMIN, which nothing keeps past this line;
  // attaching a loaded one takes nothing. Kept open here for every keeper started later.
  const filterPrograms = config.accel ? loadFilterPrograms() : 'acceleration off';
  if (typeof filterPrograms === 'string') logger.debug({ reason: filterPrograms }, 'no eBPF socket filters: the keeper attaches classic ones');
  const dropped = dropPrivileges(user);
  if (options.configFile !== undefined) {
    try {
      accessSync(options.configFile, fsConstants.R_OK);
    } catch {
      logger.warn({ file: options.configFile, user: dropped.user }, `${dropped.user} cannot read the config file: SIGHUP will not be able to reload it`);
    }
  }

  const registry = new Registry();
  const restarts = new Counter({ name: 'synpool_process_restarts_total', help: 'Keeper and worker processes restarted after they died', labelNames: ['role'] as const, registers: [registry] });
  const startMessage = (role: 'keeper' | 'worker', id: number, fds: Partial<Pick<StartMessage, 'listenFd' | 'metricsFd'>> = {}): StartMessage => ({
    type: 'start',
    role,
    id,
    config,
    keeperSocket,
    socketMode: config.keeperSocket === null ? 0o600 : 0o660,
    expectNonRoot: user !== undefined,
    ...fds,
  });
  const keeper = new ChildSlot({
    role: 'keeper',
    id: 0,
    entry,
    // In the keeper: fds 4 and 5 are the loaded filter programs, when there are any.
    extraFds: typeof filterPrograms === 'string' ? [] : [filterPrograms.dropAll, filterPrograms.dropSyn],
    startMessage: () => ({ ...startMessage('keeper', 0), ...(typeof filterPrograms === 'string' ? {} : { filterProgramFds: { dropAll: 4, dropSyn: 5 } }) }),
    aroundFork: (f) => withAmbientCaps(dropped.keeperCaps, f),
  });
  const workers = front.fds.map(
    (fd, i) =>
      new ChildSlot({
        role: 'worker',
        id: i + 1,
        entry,
        // In the worker: fd 4 is its front-port socket, fd 5 the shared metrics listener.
        extraFds: metrics === undefined ? [fd] : [fd, metrics.fds[0]!],
        startMessage: () => startMessage('worker', i + 1, { listenFd: 4, ...(metrics === undefined ? {} : { metricsFd: 5 }) }),
      }),
  );
  const slots = [keeper, ...workers];
  new Gauge({
    name: 'synpool_processes_ready',
    help: 'Keeper and worker processes serving now',
    labelNames: ['role'] as const,
    registers: [registry],
    collect() {
      this.set({ role: 'keeper' }, keeper.ready ? 1 : 0);
      this.set({ role: 'worker' }, workers.filter((w) => w.ready).length);
    },
  });

  let shuttingDown = false;
  for (const slot of slots) {
    const who = slot.role === 'keeper' ? { child: 'keeper' } : { worker: slot.id };
    slot.on('exit', ({ code, signal, restartInMs }) => {
      if (shuttingDown || restartInMs === null) return;
      restarts.inc({ role: slot.role });
      const consequence = slot.role === 'keeper' ? 'the workers connect plainly until it is back' : 'its share of the front port waits for it';
      logger.error({ ...who, code, signal, restartInMs }, `${slot.role === 'keeper' ? 'the keeper' : `worker ${slot.id}`} exited; restarting it (${consequence})`);
    });
    slot.on('ready', () => {
      if (slot.restarts > 0) logger.info({ ...who, pid: slot.pid }, `${slot.role === 'keeper' ? 'keeper' : `worker ${slot.id}`} restarted`);
    });
    slot.on('scrape', (id) => void aggregate().then((text) => slot.send({ type: 'metrics', id, text })));
  }
  let collectId = 1;
  const aggregate = async (): Promise<string> => {
    const id = collectId++;
    const all: MetricsJson[] = [await registry.getMetricsAsJSON(), ...(await Promise.all(slots.map((s) => s.collect(id, COLLECT_TIMEOUT_MS))))];
    return AggregatorRegistry.aggregate(all).metrics();
  };

  const waitReady = (slot: ChildSlot): Promise<{ accelerated?: boolean }> =>
    new Promise((resolve, reject) => {
      const who = slot.role === 'keeper' ? 'the keeper' : `worker ${slot.id}`;
      const timer = setTimeout(() => reject(new ProcessStartError(who, `did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      slot.once('ready', (info) => {
        clearTimeout(timer);
        resolve(info);
      });
      slot.once('exit', ({ code, signal, ready }) => {
        if (ready) return;
        clearTimeout(timer);
        const error = new ProcessStartError(who, `exited (${code ?? signal}) before it was ready; its error is above`);
        reject(code === 2 ? new ConfigError('(start)', error.message) : error);
      });
    });

  const cleanUp = (): void => {
    front.close();
    metrics?.close();
    if (socketDir !== undefined) rmSync(socketDir, { recursive: true, force: true });
  };
  let accelerated = false;
  try {
    keeper.spawn();
    const info = await waitReady(keeper);
    accelerated = info.accelerated === true;
    for (const w of workers) w.spawn();
    await Promise.all(workers.map(waitReady));
  } catch (err) {
    for (const s of slots) s.kill();
    cleanUp();
    throw err;
  }

  const listen = `${front.address}:${front.port}`;
  const metricsAt = metrics === undefined ? null : `${metrics.address}:${metrics.port}`;
  logger.info(
    { listen, metrics: metricsAt, workers: n, accelerated, user: dropped.user, keeperSocket: config.keeperSocket, pids: Object.fromEntries(slots.map((s) => [s.role === 'keeper' ? 'keeper' : `worker${s.id}`, s.pid])) },
    'synpool serving',
  );

  let reloading: Promise<ReloadOutcome> | undefined;
  const reload = (): Promise<ReloadOutcome> => {
    reloading ??= (async (): Promise<ReloadOutcome> => {
      let outcome: ReloadOutcome;
      try {
        const next = options.loadConfig();
        // A name that does not resolve refuses the reload here, before any process takes it.
        await checkConfig(next, lookup);
        const diff = diffConfig(config, next);
        const outcomes = await Promise.all(slots.map((s) => s.reload({ type: 'reload', config: next })));
        const failed = outcomes.find((o): o is Extract<ReloadOutcome, { ok: false }> => !o.ok);
        config = next;
        logger.level = next.logLevel;
        outcome = failed ?? { ok: true, changed: diff.changed, restartNeeded: diff.restartNeeded };
      } catch (err) {
        outcome = { ok: false, error: err instanceof Error ? err.message : String(err) };
      }
      logReloadOutcome(logger, outcome);
      return outcome;
    })().finally(() => (reloading = undefined));
    return reloading;
  };

  let resolveStopped: () => void = () => undefined;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  let shutting: Promise<void> | undefined;
  const onSignal = (signal: NodeJS.Signals): void => void shutdown(signal);
  const onHangup = (): void => void reload();
  const shutdown = (reason = 'shutdown'): Promise<void> => {
    shutting ??= (async () => {
      shuttingDown = true;
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.off('SIGHUP', onHangup);
      await reloading?.catch(() => undefined);
      logger.info({ reason, timeoutMs: config.shutdownTimeoutMs }, 'draining');
      // Our copies first: once the workers close theirs, the port stops accepting.
      front.close();
      metrics?.close();
      await Promise.all(workers.map((w) => w.stop(reason, config.shutdownTimeoutMs + EXIT_GRACE_MS)));
      await keeper.stop(reason, KEEPER_STOP_MS);
      cleanUp();
      logger.info({}, 'stopped');
      logger.flush();
      resolveStopped();
    })();
    return shutting;
  };
  if (options.handleSignals ?? true) {
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', onHangup);
  }
  return { listen, metrics: metricsAt, workers: n, reload, shutdown, stopped };
}

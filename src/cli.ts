#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Writable } from 'node:stream';
import { ConfigError, ListenError, SynpoolError } from './errors.js';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Registry } from 'prom-client';
import { loadConfig, originOf, resolveUpstream, type UpstreamTarget } from './config/load-config.js';
import { systemLookup, type AddressLookup } from './resolve/address-lookup.js';
import { buildRouting, resolveServers, wantedPools, type RuntimeDeps } from './proxy/routing-builder.js';
import type { RequestRouter } from './proxy/request-router.js';
import { PassiveHealth } from './routing/passive-health.js';
import { attachHealthLog } from './observability/health-log.js';
import { attachHealthMetrics } from './observability/health-metrics.js';
import { pauseEjectedPools } from './proxy/ejection-pause.js';
import { diffConfig } from './config/config-diff.js';
import { attachResolveLog } from './observability/resolve-log.js';
import { logReloadOutcome } from './observability/reload-log.js';
import { createResolveMetrics } from './observability/resolve-metrics.js';
import { DEFAULT_UPSTREAM } from './config/upstream-groups.js';
import { CONFIG_SCHEMA, parseHostPort, type ConfigInput, type SynpoolConfig } from './config/schema.js';
import { createLogger, type Logger } from './observability/logger.js';
import { createMetricsServer, listenOn } from './observability/metrics-server.js';
import { attachProxyMetrics } from './observability/proxy-metrics.js';
import { attachRequestLog } from './observability/request-log.js';
import { attachTlsMetrics } from './observability/tls-metrics.js';
import { upstreamTlsOptions } from './config/upstream-tls-options.js';
import { createPoolSource, PoolConnectionSource } from './proxy/pool-source.js';
import { attachPoolMetrics, registerAccelerationGauge } from './observability/pool-metrics.js';
import { attachPoolLog } from './observability/pool-log.js';
import type { PoolSettings } from './pool/pool-config.js';
import { endpointKey } from './handshake/endpoint.js';
import { AcceleratedAgent } from './proxy/accelerated-agent.js';
import { plainConnectionSource, type ConnectionSource } from './proxy/connection-source.js';
import { createProxyServer, type ProxyServer } from './proxy/proxy-server.js';
import { warmUp } from './proxy/warm-up.js';
import { collectProcessMetrics } from './observability/process-metrics.js';

/** The config keys, wrapped for the help text; generated from the schema so the list cannot drift. */
function keyList(keys: readonly string[], indent: string, width = 78): string {
  const lines: string[] = [];
  let line = indent;
  for (const [i, key] of keys.entries()) {
    const word = i === keys.length - 1 ? key : `${key},`;
    if (line.length > indent.length && line.length + 1 + word.length > width) {
      lines.push(line);
      line = indent;
    }
    line += line.length > indent.length ? ` ${word}` : word;
  }
  lines.push(line);
  return lines.join('\n');
}

const TOP_LEVEL_KEYS = Object.keys(CONFIG_SCHEMA).filter((k) => k !== 'pool');

export const HELP = `synpool: an HTTP reverse proxy whose new upstream connections skip the TCP handshake round trip

Usage:
  synpool [--config FILE] [flags]      serve (flags override the file, the file overrides the defaults)
  synpool probe <url>                  check whether acceleration works against an upstream
  synpool --help                       this text

Flags:
  --config FILE            YAML (.yaml/.yml) or JSON (.json) configuration file
  --listen HOST:PORT       client listener                       (default 127.0.0.1:8080)
  --upstream URL           http:// or https:// + IPv4, [IPv6] (not link-local) or hostname [:port]; a hostname's
                           every address (A and AAAA) gets a pool and a share of the requests, re-resolved
                           every resolveIntervalMs; https: TLS over the pooled socket, verified unless
                           tls.verify is false; repeat it for
                           several servers of one upstream (round-robin)
  --pool-size N            keep N half-open connections ready (pool.sizing: fixed, pool.targetSize: N;
                           at most pool.maxSize, default 64; without it the pool sizes itself from demand);
                           an upstream's total, split over its servers
  --no-accel               plain connects only (accel: false)
  --workers N|auto         HTTP worker processes (default 1; auto: one per core); a keeper process holds the
                           pools and the only privileges (CAP_NET_RAW, CAP_NET_ADMIN); started as root, all
                           run as \`user\` (default nobody), the workers with no capability at all
  --keeper-socket PATH     also serve pre-handshaked connections to local processes on this Unix socket
                           (mode 0660; docs/keeper-protocol.md)
  --metrics-listen HOST:PORT  /metrics, /healthz, /readyz       (default 127.0.0.1:9464)
  --log-level LEVEL        fatal, error, warn, info, debug, trace, silent (default info)

Configuration file keys (durations in milliseconds, sizes in bytes):
${keyList(TOP_LEVEL_KEYS, '  ')},
  pool { sizing, targetSize, minSize, maxSize, upstreamBacklog, ttlMs, synRatePerSec, … }
  tls.ca (PEM file of extra CAs), tls.servername (SNI and checked name), tls.verify
  trustedProxies: CIDRs whose X-Forwarded-*/Forwarded are extended (default none: replaced);
  forwardedHeader: x-forwarded (default), forwarded (RFC 7239) or both
  health { maxFails, ejectMs, maxEjectMs, ejectJitter }: passive health (a server out after maxFails
    connect failures or resets in a row, for ejectMs doubling up to maxEjectMs)
  upstreams { NAME: { servers: [URL, …], balance, pool, health } }, routes [{ host, pathPrefix, upstream }];
    an upstream's pool sizes (targetSize, minSize, maxSize) are its total, split over its servers
  See config/default.yaml (every key with its default), config/synpool.upstreams.example.yaml,
  docs/proxy.md and docs/pool.md.

Exit codes: 0 stopped cleanly (SIGTERM/SIGINT), 1 runtime failure, 2 bad usage or configuration.
`;

export interface ServeOptions {
  /**
   * The upstream of a one-URL config, already resolved (resolveUpstream); optional: serve()
   * resolves every server of `config.upstreams` that is not given here.
   */
  upstream?: UpstreamTarget;
  /** Where new connections come from when config.accel is true (the pool manager plugs in here); gets the first server. */
  createSource?: (config: SynpoolConfig, upstream: UpstreamTarget) => ConnectionSource | Promise<ConnectionSource>;
  logger?: Logger;
  /** Defaults to a fresh Registry (with Node's default metrics). */
  registry?: Registry;
  /** Install SIGTERM/SIGINT (shutdown) and SIGHUP (reload) handlers. Default true. */
  handleSignals?: boolean;
  /** Resolves upstream names (default: the system resolver). */
  lookup?: AddressLookup;
  /**
   * Reads and validates the configuration again (the file and the same flags), for
   * reload(); throws ConfigError. Without it a reload has nothing to read and says so.
   */
  loadConfig?: () => SynpoolConfig;
  /** A worker: accept on this inherited listening socket instead of binding config.listen. */
  listenFd?: number;
  /** A worker: serve /metrics, /healthz, /readyz on this inherited listening socket (config.metricsListen non-null). */
  metricsFd?: number;
  /** What /metrics answers (a worker: the aggregate over every process); default this registry's. */
  metricsText?: () => Promise<string>;
  /** The line logged once serving (a worker says 'worker serving'; the supervisor says 'synpool serving'). */
  servingMessage?: string;
  /** Log each reload's outcome here (default true; a worker's supervisor logs one line for all). */
  logReload?: boolean;
  /** Register synpool_acceleration_enabled (default true; with workers the keeper owns it). */
  accelerationGauge?: boolean;
  /** One request over loopback inside this process before binding (src/proxy/warm-up.ts); default true. */
  warmUp?: boolean;
}

/** What a reload did. */
export type ReloadOutcome =
  | { readonly ok: true; readonly changed: readonly string[]; readonly restartNeeded: readonly string[] }
  | { readonly ok: false; readonly error: string };

export interface RunningSynpool {
  readonly proxy: ProxyServer;
  /** The upstream dispatcher new requests use (a reload may replace it). */
  readonly agent: AcceleratedAgent;
  readonly registry: Registry;
  readonly address: AddressInfo;
  readonly metricsAddress: AddressInfo | undefined;
  /** The configuration in force (a reload replaces it). */
  readonly config: SynpoolConfig;
  /** Routes, upstreams and their servers in force (a reload replaces it). */
  readonly router: RequestRouter;
  /**
   * Re-reads the configuration (SIGHUP does this) and applies it without dropping a
   * request; an invalid one is logged and the running one kept. One at a time.
   */
  reload(): Promise<ReloadOutcome>;
  /** Stop accepting, drain for up to shutdownTimeoutMs, close the source; idempotent. */
  shutdown(reason?: string): Promise<void>;
  /** Resolves once shutdown has finished. */
  readonly stopped: Promise<void>;
}

function buildAgent(config: SynpoolConfig, source: ConnectionSource, events?: AcceleratedAgent['events']): AcceleratedAgent {
  return new AcceleratedAgent({
    source,
    // The name to present and check comes with each request (its server's); an unreadable
    // tls.ca is a ConfigError: at start, exit 2; on reload, the old config stays.
    tls: upstreamTlsOptions(config.tls),
    connectTimeoutMs: config.connectTimeoutMs,
    keepAliveTimeoutMs: config.upstreamKeepAliveTimeoutMs,
    headersTimeoutMs: config.headersTimeoutMs,
    bodyTimeoutMs: config.bodyTimeoutMs,
    connections: config.maxUpstreamConnections,
    lean: config.leanExchange,
    ...(events === undefined ? {} : { events }),
  });
}

function warnUnverified(logger: Logger, config: SynpoolConfig, servers: Iterable<UpstreamTarget>): void {
  if (config.tls.verify) return;
  const https = [...servers].filter((u) => u.protocol === 'https:').map((u) => u.url);
  if (https.length > 0) logger.warn({ servers: https }, 'tls.verify is false: the upstream certificate is not checked (anyone on the path can impersonate it)');
}

/** The proxy settings a reload may change, from a config. */
function proxySettings(c: SynpoolConfig) {
  return {
    preserveHost: c.preserveHost,
    trustedProxies: c.trustedProxies,
    forwardedHeader: c.forwardedHeader,
    headersTimeoutMs: c.headersTimeoutMs,
    bodyTimeoutMs: c.bodyTimeoutMs,
    retryBufferBytes: c.retryBufferBytes,
    clientKeepAliveTimeoutMs: c.clientKeepAliveTimeoutMs,
    upgradeIdleTimeoutMs: c.upgradeIdleTimeoutMs,
  };
}

/** Starts the proxy, its metrics listener and logging, from a validated config. */
export async function serve(initial: SynpoolConfig, options: ServeOptions = {}): Promise<RunningSynpool> {
  let config = initial;
  const logger = options.logger ?? createLogger(config.logLevel);
  const registry = options.registry ?? new Registry();
  if (options.registry === undefined) collectProcessMetrics(registry);
  const lookup = options.lookup ?? systemLookup;
  // tls.servername, when set, is the name presented to and checked on every https server.
  const resolve = async (url: string, c: SynpoolConfig): Promise<UpstreamTarget> => {
    const u = options.upstream?.url === url ? options.upstream : await resolveUpstream(url, lookup);
    return c.tls.servername === null ? u : Object.freeze({ ...u, servername: c.tls.servername });
  };
  let resolved = await resolveServers(config, (url) => resolve(url, config));
  const first = resolved.values().next().value as UpstreamTarget;

  let source: ConnectionSource = plainConnectionSource;
  if (config.accel) {
    // Built but not started: no SYN leaves before both listeners are bound (source.start() below).
    const create = options.createSource ?? ((c: SynpoolConfig) => createPoolSource([], c.pool as PoolSettings, { start: false }));
    source = await create(config, first);
    const disabled = (source as { disabledReason?: string }).disabledReason;
    if (disabled !== undefined) logger.warn({ reason: disabled }, `acceleration is off (${disabled}); serving with plain connects`);
  }

  // Read once, before anything is bound: an unreadable tls.ca is a config error (exit 2).
  let agent = buildAgent(config, source);
  warnUnverified(logger, config, resolved.values());
  const resolveMetrics = createResolveMetrics(registry);
  const health = new PassiveHealth();
  const deps: RuntimeDeps = {
    lookup,
    source,
    // Through `agent`, not a captured one: a reload may replace the agent and keep the runtimes.
    idle: (o) => agent.idleConnections(o),
    retireOrigin: (o) => agent.retireOrigin(o),
    observe: (addresses) => [attachResolveLog(logger, addresses), resolveMetrics.follow(addresses)],
  };
  let routing = buildRouting(config, resolved, deps, health);
  source.syncTargets?.(wantedPools(config, routing), true);
  const proxy = createProxyServer({
    upstream: first,
    router: routing.router,
    dispatcher: agent,
    ...proxySettings(config),
    clientHeadersTimeoutMs: config.clientHeadersTimeoutMs,
  });
  // The agent's events emitter outlives a replaced agent (buildAgent passes it on), so these stay subscribed.
  const detachLog = attachRequestLog(logger, proxy, agent);
  const detachMetrics = attachProxyMetrics(registry, proxy, agent);
  const detachTls = attachTlsMetrics(registry, agent);
  const detachHealth = [
    attachHealthLog(logger, health),
    attachHealthMetrics(registry, health, () => routing.router),
    // An ejected server's pools send no SYN until it is readmitted (src/proxy/ejection-pause.ts).
    pauseEjectedPools(health, source, (url) => [...routing.runtimes.values()].find((r) => r.upstream.url === url)),
  ];
  if (options.accelerationGauge ?? true) registerAccelerationGauge(registry, source.accelerated);
  const detachPool: Array<() => void> =
    source instanceof PoolConnectionSource ? [attachPoolMetrics(registry, source.pool, source), attachPoolLog(logger, source.pool)] : [];
  const closeRuntimes = (): void => {
    for (const r of routing.runtimes.values()) r.close();
  };
  const detachAll = (): void => {
    detachLog();
    detachMetrics();
    detachTls();
    for (const detach of [...detachPool, ...detachHealth]) detach();
  };

  // Before the listener is bound, so no client request meets the first-use costs.
  if (options.warmUp ?? true) {
    const w = await warmUp();
    if (w.ms === undefined) logger.debug({ reason: w.skipped }, 'warm-up skipped');
    else logger.debug({ ms: Math.round(w.ms * 10) / 10 }, 'warmed up');
  }

  let metricsServer: Server | undefined;
  let metricsAddress: AddressInfo | undefined;
  let address: AddressInfo;
  try {
    address =
      options.listenFd === undefined
        ? await bindListener('listen', config.listen, (port, host) => proxy.listen(port, host))
        : await proxy.listenOnHandle({ fd: options.listenFd });
    if (config.metricsListen !== null) {
      // Ready while listening, not draining, and every upstream has a server that is not ejected.
      metricsServer = createMetricsServer({
        registry,
        ready: () => proxy.listening && !proxy.draining && routing.router.ready,
        ...(options.metricsText === undefined ? {} : { text: options.metricsText }),
      });
      const server = metricsServer;
      metricsAddress =
        options.metricsFd === undefined
          ? await bindListener('metricsListen', config.metricsListen, (port, host) => listenOn(server, port, host))
          : await listenOn(server, { fd: options.metricsFd });
    }
  } catch (err) {
    // Nothing has reached the upstream yet: undo what was built and let the caller report the one line.
    closeRuntimes();
    health.close();
    await proxy.close(0);
    if (metricsServer?.listening) await new Promise<void>((r) => metricsServer!.close(() => r()));
    await agent.destroy();
    await source.close?.();
    detachAll();
    throw err;
  }
  source.start?.();
  for (const r of routing.runtimes.values()) r.start();
  logger.info(
    {
      listen: `${address.address}:${address.port}`,
      upstreams: Object.fromEntries(Object.entries(config.upstreams).map(([name, g]) => [name, g.servers])),
      targets: [...routing.runtimes.values()].flatMap((r) => r.endpoints.map((e) => r.originOf(e))),
      accelerated: source.accelerated,
      metrics: metricsAddress === undefined ? null : `${metricsAddress.address}:${metricsAddress.port}`,
    },
    options.servingMessage ?? 'synpool serving',
  );

  let shutting: Promise<void> | undefined;
  let reloading: Promise<ReloadOutcome> | undefined;

  /** Applies a validated config; throws ConfigError (a new server that does not resolve, an unreadable tls.ca) before changing anything. */
  const apply = async (next: SynpoolConfig): Promise<ReloadOutcome> => {
    const diff = diffConfig(config, next);
    // Everything that can fail is done first, so a failure leaves the running config whole.
    const nextResolved = diff.effects.has('upstream') || diff.changed.includes('tls') ? await resolveServers(next, (url) => resolve(url, next), next.tls.servername === config.tls.servername ? resolved : new Map()) : resolved;
    const nextAgent = diff.effects.has('agent') ? buildAgent(next, source, agent.events) : undefined;
    if (shutting !== undefined) return { ok: false, error: 'shutting down' };

    if (diff.effects.has('log')) logger.level = next.logLevel;
    const oldRouting = routing;
    const oldAgent = agent;
    if (diff.effects.has('upstream') || diff.effects.has('pool') || nextResolved !== resolved) {
      routing = buildRouting(next, nextResolved, deps, health, oldRouting.runtimes);
      // Pools for new addresses (and new pool settings) before any request can go there.
      source.syncTargets?.(wantedPools(next, routing), false);
    }
    if (nextAgent !== undefined) agent = nextAgent;
    proxy.reconfigure({ router: routing.router, dispatcher: agent, ...proxySettings(next) });
    if (routing !== oldRouting) {
      // Requests follow the new routes now: what the old routing alone used goes.
      source.syncTargets?.(wantedPools(next, routing), true);
      const kept = new Set(routing.runtimes.values());
      const keptServers = new Set([...kept].map((r) => r.upstream.url));
      const keptOrigins = new Set([...kept].flatMap((r) => r.endpoints.map((e) => r.originOf(e))));
      for (const r of oldRouting.runtimes.values()) {
        if (kept.has(r)) continue;
        r.close();
        if (!keptServers.has(r.upstream.url)) health.forget(r.upstream.url);
        for (const e of r.endpoints) {
          const origin = r.originOf(e);
          if (keptOrigins.has(origin)) continue;
          void agent.retireOrigin(origin);
          if (oldAgent !== agent) void oldAgent.retireOrigin(origin);
        }
      }
      const before = new Set(oldRouting.runtimes.values());
      for (const r of routing.runtimes.values()) if (!before.has(r)) r.start();
    }
    const serversChanged = nextResolved !== resolved;
    resolved = nextResolved;
    // The old agent finishes what it carries, then closes its connections.
    if (oldAgent !== agent) void oldAgent.close().catch((err: unknown) => logger.warn({ err }, 'closing the replaced upstream dispatcher failed'));
    config = next;
    if (nextAgent !== undefined || serversChanged) warnUnverified(logger, next, nextResolved.values());
    return { ok: true, changed: diff.changed, restartNeeded: diff.restartNeeded };
  };

  const reload = (): Promise<ReloadOutcome> => {
    reloading ??= (async (): Promise<ReloadOutcome> => {
      let outcome: ReloadOutcome;
      try {
        if (options.loadConfig === undefined) throw new ConfigError('(reload)', 'no configuration to read again (started without a loader)');
        outcome = await apply(options.loadConfig());
      } catch (err) {
        const error = err instanceof SynpoolError || err instanceof ConfigError ? err.message : String(err);
        outcome = { ok: false, error };
      }
      // A worker's supervisor reports the outcome of all its processes' reloads, once.
      if (options.logReload !== false) logReloadOutcome(logger, outcome);
      return outcome;
    })().finally(() => (reloading = undefined));
    return reloading;
  };

  let resolveStopped: () => void = () => undefined;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  const onSignal = (signal: NodeJS.Signals): void => void shutdown(signal);
  const onHangup = (): void => void reload();
  const shutdown = (reason = 'shutdown'): Promise<void> => {
    shutting ??= (async () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.off('SIGHUP', onHangup);
      await reloading?.catch(() => undefined);
      logger.info({ reason, inFlight: proxy.inFlight, timeoutMs: config.shutdownTimeoutMs }, 'draining');
      closeRuntimes();
      health.close();
      const drained = await proxy.close(config.shutdownTimeoutMs);
      if (drained) await agent.close();
      else await agent.destroy();
      try {
        await source.close?.();
      } catch (err) {
        logger.error({ err }, 'closing the connection source failed');
      }
      if (metricsServer !== undefined) {
        metricsServer.closeAllConnections();
        await new Promise<void>((r) => metricsServer!.close(() => r()));
      }
      detachAll();
      logger.info({ drained }, 'stopped');
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
  return {
    proxy,
    get agent() {
      return agent;
    },
    registry,
    address,
    metricsAddress,
    get config() {
      return config;
    },
    get router() {
      return routing.router;
    },
    reload,
    shutdown,
    stopped,
  };
}

/** Binds one listener; a failure becomes a ListenError naming the config key, the address and the reason. */
async function bindListener(field: string, hostPort: string, listen: (port: number, host: string) => Promise<AddressInfo>): Promise<AddressInfo> {
  const { host, port } = parseHostPort(field, hostPort);
  try {
    return await listen(port, host);
  } catch (err) {
    throw new ListenError(field, host, port, err);
  }
}

export type CliCommand =
  | { command: 'help' }
  | { command: 'probe'; args: string[] }
  | { command: 'serve'; file: string | undefined; overrides: ConfigInput };

/** Parses argv (without node and the script). Throws ConfigError for unusable flags. */
export function parseCliArgs(argv: readonly string[]): CliCommand {
  if (argv[0] === 'probe') return { command: 'probe', args: argv.slice(1) };
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string' },
        listen: { type: 'string' },
        upstream: { type: 'string', multiple: true },
        'pool-size': { type: 'string' },
        'no-accel': { type: 'boolean' },
        'metrics-listen': { type: 'string' },
        'log-level': { type: 'string' },
        workers: { type: 'string' },
        'keeper-socket': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new ConfigError('(command line)', `${(err as Error).message} (see synpool --help)`);
  }
  const v = parsed.values;
  if (v.help === true) return { command: 'help' };
  const overrides: ConfigInput = {};
  if (v.listen !== undefined) overrides.listen = v.listen;
  // Repeated: the servers of one upstream named `default` (with a catch-all route).
  if (v.upstream !== undefined && v.upstream.length === 1) overrides.upstream = v.upstream[0];
  else if (v.upstream !== undefined) overrides.upstreams = { [DEFAULT_UPSTREAM]: { servers: v.upstream } };
  if (v['no-accel'] === true) overrides.accel = false;
  if (v['metrics-listen'] !== undefined) overrides.metricsListen = v['metrics-listen'];
  if (v['log-level'] !== undefined) overrides.logLevel = v['log-level'];
  if (v.workers !== undefined) overrides.workers = /^\d+$/.test(v.workers) ? Number(v.workers) : v.workers;
  if (v['keeper-socket'] !== undefined) overrides.keeperSocket = v['keeper-socket'];
  if (v['pool-size'] !== undefined) {
    const text = v['pool-size'];
    overrides.pool = { sizing: 'fixed', targetSize: /^\d+$/.test(text) ? Number(text) : text };
  }
  return { command: 'serve', file: v.config, overrides };
}

export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  /** Tests: resolve upstream hostnames without DNS. */
  lookup?: AddressLookup;
}

/** The whole CLI; resolves with the exit code (for serve: once it has stopped). */
export async function main(argv: readonly string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  try {
    const cmd = parseCliArgs(argv);
    if (cmd.command === 'help') {
      io.stdout.write(HELP);
      return 0;
    }
    if (cmd.command === 'probe') {
      const { runProbe } = await import('./commands/probe.js');
      return await runProbe(cmd.args);
    }
    const config = loadConfig({ file: cmd.file, overrides: cmd.overrides });
    const reloadConfig = (): SynpoolConfig => loadConfig({ file: cmd.file, overrides: cmd.overrides });
    const { runSupervisor } = await import('./process/supervisor.js');
    const running = await runSupervisor(config, {
      loadConfig: reloadConfig,
      ...(cmd.file === undefined ? {} : { configFile: cmd.file }),
      ...(io.lookup === undefined ? {} : { lookup: io.lookup }),
    });
    await running.stopped;
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr.write(`synpool: ${err.message}\n`);
      return 2;
    }
    // Like a config error, the message says all an operator needs: one line, no stack.
    if (err instanceof ListenError) {
      io.stderr.write(`synpool: ${err.message}\n`);
      return 1;
    }
    const message = err instanceof SynpoolError ? `${err.code}: ${err.message}` : err instanceof Error ? (err.stack ?? err.message) : String(err);
    io.stderr.write(`synpool: ${message}\n`);
    return 1;
  }
}

function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
  // Whatever still holds the event loop (a stuck socket) must not keep a stopped proxy alive.
  setTimeout(() => process.exit(code), 2_000).unref();
}

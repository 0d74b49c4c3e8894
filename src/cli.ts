#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Writable } from 'node:stream';
import { ConfigError, ListenError, SynpoolError } from './errors.js';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { loadConfig, originOf, resolveUpstream, type UpstreamTarget } from './config/load-config.js';
import { systemLookup, type AddressLookup } from './resolve/address-lookup.js';
import { UpstreamRuntime } from './proxy/upstream-runtime.js';
import { diffConfig } from './config/config-diff.js';
import { attachResolveLog } from './observability/resolve-log.js';
import { createResolveMetrics } from './observability/resolve-metrics.js';
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
                           tls.verify is false
  --pool-size N            keep N half-open connections ready (pool.sizing: fixed, pool.targetSize: N;
                           at most pool.maxSize, default 64; without it the pool sizes itself from demand)
  --no-accel               plain connects only (accel: false)
  --metrics-listen HOST:PORT  /metrics, /healthz, /readyz       (default 127.0.0.1:9464)
  --log-level LEVEL        fatal, error, warn, info, debug, trace, silent (default info)

Configuration file keys (durations in milliseconds, sizes in bytes):
${keyList(TOP_LEVEL_KEYS, '  ')},
  pool { sizing, targetSize, minSize, maxSize, upstreamBacklog, ttlMs, synRatePerSec, … }
  tls.ca (PEM file of extra CAs), tls.servername (SNI and checked name), tls.verify
  trustedProxies: CIDRs whose X-Forwarded-*/Forwarded are extended (default none: replaced);
  forwardedHeader: x-forwarded (default), forwarded (RFC 7239) or both
  See config/default.yaml (every key with its default), docs/proxy.md and docs/pool.md.

Exit codes: 0 stopped cleanly (SIGTERM/SIGINT), 1 runtime failure, 2 bad usage or configuration.
`;

export interface ServeOptions {
  /** The upstream, already resolved (resolveUpstream). */
  upstream: UpstreamTarget;
  /** Where new connections come from when config.accel is true (the pool manager plugs in here). */
  createSource?: (config: SynpoolConfig, upstream: UpstreamTarget) => ConnectionSource | Promise<ConnectionSource>;
  logger?: Logger;
  /** Defaults to a fresh Registry (with Node's default metrics). */
  registry?: Registry;
  /** Install SIGTERM/SIGINT (shutdown) and SIGHUP (reload) handlers. Default true. */
  handleSignals?: boolean;
  /** Re-resolves an upstream name (default: the system resolver). */
  lookup?: AddressLookup;
  /**
   * Reads and validates the configuration again (the file and the same flags), for
   * reload(); throws ConfigError. Without it a reload has nothing to read and says so.
   */
  loadConfig?: () => SynpoolConfig;
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

function buildAgent(config: SynpoolConfig, upstream: UpstreamTarget, source: ConnectionSource, events?: AcceleratedAgent['events']): AcceleratedAgent {
  return new AcceleratedAgent({
    source,
    // An unreadable tls.ca is a ConfigError: at start, exit 2; on reload, the old config stays.
    tls: upstreamTlsOptions(config.tls, upstream),
    connectTimeoutMs: config.connectTimeoutMs,
    keepAliveTimeoutMs: config.upstreamKeepAliveTimeoutMs,
    headersTimeoutMs: config.headersTimeoutMs,
    bodyTimeoutMs: config.bodyTimeoutMs,
    connections: config.maxUpstreamConnections,
    ...(events === undefined ? {} : { events }),
  });
}

function warnUnverified(logger: Logger, config: SynpoolConfig, upstream: UpstreamTarget): void {
  if (upstream.protocol === 'https:' && !config.tls.verify) {
    logger.warn({ upstream: upstream.url }, 'tls.verify is false: the upstream certificate is not checked (anyone on the path can impersonate it)');
  }
}

/** Starts the proxy, its metrics listener and logging, from a validated config. */
export async function serve(initial: SynpoolConfig, options: ServeOptions): Promise<RunningSynpool> {
  let config = initial;
  const logger = options.logger ?? createLogger(config.logLevel);
  const registry = options.registry ?? new Registry();
  if (options.registry === undefined) collectDefaultMetrics({ register: registry });
  const lookup = options.lookup ?? systemLookup;

  let source: ConnectionSource = plainConnectionSource;
  if (config.accel) {
    // Built but not started: no SYN leaves before both listeners are bound (source.start() below).
    const create =
      options.createSource ?? ((c: SynpoolConfig, u: UpstreamTarget) => createPoolSource(u.endpoints, c.pool as PoolSettings, { start: false }));
    source = await create(config, options.upstream);
    const disabled = (source as { disabledReason?: string }).disabledReason;
    if (disabled !== undefined) logger.warn({ reason: disabled }, `acceleration is off (${disabled}); serving with plain connects`);
  }

  // Read once, before anything is bound: an unreadable tls.ca is a config error (exit 2).
  let agent = buildAgent(config, options.upstream, source);
  warnUnverified(logger, config, options.upstream);
  const resolveMetrics = createResolveMetrics(registry);
  const runtimeFor = (upstream: UpstreamTarget, c: SynpoolConfig): UpstreamRuntime =>
    new UpstreamRuntime({
      upstream,
      intervalMs: c.resolveIntervalMs,
      lookup,
      source,
      // Through `agent`, not a captured one: a reload may replace the agent and keep the runtime.
      idle: (o) => agent.idleConnections(o),
      retireOrigin: (o) => agent.retireOrigin(o),
      observe: (addresses) => [attachResolveLog(logger, addresses), resolveMetrics.follow(addresses)],
    });
  let runtime = runtimeFor(options.upstream, config);
  const proxy = createProxyServer({
    upstream: runtime.upstream,
    origins: runtime.origins,
    dispatcher: agent,
    preserveHost: config.preserveHost,
    trustedProxies: config.trustedProxies,
    forwardedHeader: config.forwardedHeader,
    headersTimeoutMs: config.headersTimeoutMs,
    bodyTimeoutMs: config.bodyTimeoutMs,
    retryBufferBytes: config.retryBufferBytes,
    clientKeepAliveTimeoutMs: config.clientKeepAliveTimeoutMs,
    clientHeadersTimeoutMs: config.clientHeadersTimeoutMs,
    upgradeIdleTimeoutMs: config.upgradeIdleTimeoutMs,
  });
  // The agent's events emitter outlives a replaced agent (buildAgent passes it on), so these stay subscribed.
  const detachLog = attachRequestLog(logger, proxy, agent);
  const detachMetrics = attachProxyMetrics(registry, proxy, agent);
  const detachTls = attachTlsMetrics(registry, agent);
  registerAccelerationGauge(registry, source.accelerated);
  const detachPool: Array<() => void> =
    source instanceof PoolConnectionSource ? [attachPoolMetrics(registry, source.pool, source), attachPoolLog(logger, source.pool)] : [];

  let metricsServer: Server | undefined;
  let metricsAddress: AddressInfo | undefined;
  let address: AddressInfo;
  try {
    address = await bindListener('listen', config.listen, (port, host) => proxy.listen(port, host));
    if (config.metricsListen !== null) {
      metricsServer = createMetricsServer({ registry, ready: () => proxy.listening && !proxy.draining });
      const server = metricsServer;
      metricsAddress = await bindListener('metricsListen', config.metricsListen, (port, host) => listenOn(server, port, host));
    }
  } catch (err) {
    // Nothing has reached the upstream yet: undo what was built and let the caller report the one line.
    runtime.close();
    await proxy.close(0);
    if (metricsServer?.listening) await new Promise<void>((r) => metricsServer!.close(() => r()));
    await agent.destroy();
    await source.close?.();
    detachLog();
    detachMetrics();
    detachTls();
    for (const detach of detachPool) detach();
    throw err;
  }
  source.start?.();
  runtime.start();
  const upstream = runtime.upstream;
  logger.info(
    { listen: `${address.address}:${address.port}`, upstream: upstream.url, targets: upstream.endpoints.map((e) => originOf(upstream.protocol, e)), accelerated: source.accelerated, metrics: metricsAddress === undefined ? null : `${metricsAddress.address}:${metricsAddress.port}` },
    'synpool serving',
  );

  let shutting: Promise<void> | undefined;
  let reloading: Promise<ReloadOutcome> | undefined;

  /** Applies a validated config; throws ConfigError (a new upstream that does not resolve, an unreadable tls.ca) before changing anything. */
  const apply = async (next: SynpoolConfig): Promise<ReloadOutcome> => {
    const diff = diffConfig(config, next);
    const upstreamChanged = next.upstream !== config.upstream;
    // Everything that can fail is done first, so a failure leaves the running config whole.
    const nextUpstream = upstreamChanged ? await resolveUpstream(next.upstream, lookup) : runtime.upstream;
    const nextAgent =
      diff.effects.has('agent') || upstreamChanged ? buildAgent(next, nextUpstream, source, agent.events) : undefined;
    if (shutting !== undefined) return { ok: false, error: 'shutting down' };

    if (diff.effects.has('log')) logger.level = next.logLevel;
    if (diff.effects.has('pool') && source instanceof PoolConnectionSource) source.updateSettings(next.pool as PoolSettings);

    const oldRuntime = runtime;
    const oldAgent = agent;
    if (upstreamChanged || diff.changed.includes('resolveIntervalMs')) {
      oldRuntime.close();
      runtime = runtimeFor(nextUpstream, next);
      // Pools for the new addresses before any request can go there.
      const before = new Set(oldRuntime.endpoints.map(endpointKey));
      for (const e of runtime.endpoints) if (!before.has(endpointKey(e))) source.addTarget?.(e);
    }
    if (nextAgent !== undefined) agent = nextAgent;
    proxy.reconfigure({
      upstream: runtime.upstream,
      origins: runtime.origins,
      dispatcher: agent,
      preserveHost: next.preserveHost,
      trustedProxies: next.trustedProxies,
      forwardedHeader: next.forwardedHeader,
      headersTimeoutMs: next.headersTimeoutMs,
      bodyTimeoutMs: next.bodyTimeoutMs,
      retryBufferBytes: next.retryBufferBytes,
      clientKeepAliveTimeoutMs: next.clientKeepAliveTimeoutMs,
      upgradeIdleTimeoutMs: next.upgradeIdleTimeoutMs,
    });
    if (runtime !== oldRuntime) {
      // Requests go to the new addresses now; the old ones that are not kept lose their pools.
      const kept = new Set(runtime.endpoints.map(endpointKey));
      for (const e of oldRuntime.endpoints) {
        if (kept.has(endpointKey(e))) continue;
        source.removeTarget?.(e);
        void agent.retireOrigin(oldRuntime.originOf(e));
        if (oldAgent !== agent) void oldAgent.retireOrigin(oldRuntime.originOf(e));
      }
      runtime.start();
    }
    // The old agent finishes what it carries, then closes its connections.
    if (oldAgent !== agent) void oldAgent.close().catch((err: unknown) => logger.warn({ err }, 'closing the replaced upstream dispatcher failed'));
    config = next;
    if (nextAgent !== undefined) warnUnverified(logger, next, runtime.upstream);
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
      if (outcome.ok) {
        logger.info({ changed: outcome.changed, restartNeeded: outcome.restartNeeded }, 'configuration reloaded');
        if (outcome.restartNeeded.length > 0) {
          logger.warn({ keys: outcome.restartNeeded }, `changed keys that only a restart applies: ${outcome.restartNeeded.join(', ')}`);
        }
      } else {
        logger.error({ error: outcome.error }, 'reload refused; still serving with the previous configuration');
      }
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
      runtime.close();
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
      detachLog();
      detachMetrics();
      detachTls();
      for (const detach of detachPool) detach();
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
        upstream: { type: 'string' },
        'pool-size': { type: 'string' },
        'no-accel': { type: 'boolean' },
        'metrics-listen': { type: 'string' },
        'log-level': { type: 'string' },
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
  if (v.upstream !== undefined) overrides.upstream = v.upstream;
  if (v['no-accel'] === true) overrides.accel = false;
  if (v['metrics-listen'] !== undefined) overrides.metricsListen = v['metrics-listen'];
  if (v['log-level'] !== undefined) overrides.logLevel = v['log-level'];
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
    const upstream = await resolveUpstream(config.upstream, io.lookup);
    const reloadConfig = (): SynpoolConfig => loadConfig({ file: cmd.file, overrides: cmd.overrides });
    const running = await serve(config, io.lookup === undefined ? { upstream, loadConfig: reloadConfig } : { upstream, lookup: io.lookup, loadConfig: reloadConfig });
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

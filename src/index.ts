// The library API: the accelerated dispatcher, the proxy server, config and errors.

export {
  AcceleratedAgent,
  createAcceleratedAgent,
  type AcceleratedAgentOptions,
  type AcceleratedAgentEvents,
  type AcceleratedDispatchOptions,
  type ConnectionAwareHandler,
  type ConnectionEvent,
  type FallbackEvent,
  type RetryEvent,
} from './proxy/accelerated-agent.js';
export { plainConnectionSource, type ConnectionSource, type ConnectionOrigin } from './proxy/connection-source.js';
export { createConnector, type ConnectorOptions, type FallbackReason } from './proxy/connector.js';
export { resolveUpstreamTls, type UpstreamTlsOptions, type UpstreamTls } from './proxy/upstream-tls.js';
export { TlsSessionCache } from './proxy/tls-session-cache.js';
export type { TlsHandshakeEvent } from './proxy/tls-handshake.js';
export { ReplayableBody } from './proxy/replayable-body.js';
export { isIdempotent, retryReason, type RetryReason } from './proxy/retry-policy.js';
export {
  ProxyServer,
  createProxyServer,
  type ProxyServerOptions,
  type ProxyServerEvents,
  type RequestRecord,
  type ClientErrorRecord,
} from './proxy/proxy-server.js';
export { upstreamErrorResponse, type UpstreamErrorResponse } from './proxy/upstream-error.js';
export { removeHopByHop, upstreamRequestHeaders, clientResponseHeaders, upstreamPath, type ForwardContext } from './proxy/headers.js';
export { TrustedProxies } from './proxy/trusted-proxies.js';
export { FORWARDED_HEADER_MODES, type ForwardedHeaderMode } from './proxy/forwarded-element.js';

export {
  DEFAULTS,
  CONFIG_SCHEMA,
  LOG_LEVELS,
  loadConfig,
  readConfigFile,
  resolveUpstream,
  originOf,
  validateConfig,
  type SynpoolConfig,
  type ConfigInput,
  type LoadConfigOptions,
  type UpstreamTarget,
  type LogLevel,
} from './config/index.js';

export { createLogger } from './observability/logger.js';
export { attachRequestLog } from './observability/request-log.js';
export { attachProxyMetrics } from './observability/proxy-metrics.js';
export { attachTlsMetrics } from './observability/tls-metrics.js';
export { attachPoolMetrics } from './observability/pool-metrics.js';
export { createPoolSource, PoolConnectionSource, type PlainFallback, type CreatePoolSourceOptions } from './proxy/pool-source.js';
export { PoolManager, type PoolManagerOptions, type PoolSnapshot, type PoolEvents } from './pool/index.js';
export { resolvePoolSettings, POOL_DEFAULTS, type PoolSettings, type UpstreamPoolConfig } from './pool/pool-config.js';
export { addressShare, splitPoolSettings, SPLIT_FIELDS } from './pool/pool-split.js';
export { Handshaker, type HandshakerOptions } from './handshake/handshaker.js';
export { checkCapabilities, type CapabilityReport } from './handshake/capabilities.js';
export { createMetricsServer } from './observability/metrics-server.js';
export { systemLookup, usableEndpoints, type AddressLookup } from './resolve/address-lookup.js';
export { UpstreamAddresses, type AddressChange, type ResolveFailure, type UpstreamAddressesOptions } from './resolve/upstream-addresses.js';
export { OriginBalancer, fixedOrigin, type OriginChooser, type OriginBalancerHooks } from './proxy/origin-balancer.js';
export { followAddresses, type AddressFollowerParts } from './proxy/address-follower.js';
export { pauseEjectedPools } from './proxy/ejection-pause.js';

export { serve, main, parseCliArgs, type ServeOptions, type RunningSynpool, type CliCommand, type ReloadOutcome } from './cli.js';
export { diffConfig, RELOAD_EFFECT, type ConfigDiff, type ReloadEffect } from './config/config-diff.js';
export { ServerRuntime, type ServerRuntimeOptions } from './proxy/server-runtime.js';

export {
  KeeperServer,
  KEEPER_SERVER_DEFAULTS,
  type KeeperServerOptions,
  type KeeperServerEvents,
  type KeeperServerStats,
  type KeeperSource,
} from './keeper/keeper-server.js';
export {
  KeeperConnectionSource,
  KEEPER_SOURCE_DEFAULTS,
  type KeeperConnectionSourceOptions,
  type KeeperConnectionSourceEvents,
  type KeeperSourceStats,
} from './keeper/keeper-source.js';
export { PROTOCOL_VERSION as KEEPER_PROTOCOL_VERSION, KEEPER_ERROR_CODES, type KeeperErrorCode } from './keeper/protocol.js';

export * from './errors.js';
export type { Endpoint } from './handshake/endpoint.js';

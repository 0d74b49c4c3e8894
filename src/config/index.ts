export { DEFAULTS, LOG_LEVELS, type LogLevel } from './defaults.js';
export { CONFIG_SCHEMA, validateConfig, parseHostPort, type SynpoolConfig, type ConfigInput } from './schema.js';
export { loadConfig, originOf, readConfigFile, resolveUpstream, type LoadConfigOptions, type UpstreamTarget, type Ipv4Lookup } from './load-config.js';
export { deepFreeze, type DeepReadonly } from './deep-freeze.js';

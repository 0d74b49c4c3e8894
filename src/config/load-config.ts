import { readFileSync } from 'node:fs';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors.js';
import { formatEndpoint, type Endpoint } from '../handshake/endpoint.js';
import { isPlainObject, parseUpstreamUrl, validateConfig, type ConfigInput, type SynpoolConfig } from './schema.js';

/** Reads a YAML or JSON config file (chosen by extension; anything else is parsed as YAML, a superset of JSON). */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('--config', `cannot read ${JSON.stringify(path)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let parsed: unknown;
  try {
    parsed = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError('--config', `cannot parse ${JSON.stringify(path)}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (!isPlainObject(parsed)) throw new ConfigError('--config', `${JSON.stringify(path)} must hold a mapping of settings at the top level`);
  return parsed;
}

export interface LoadConfigOptions {
  /** A YAML or JSON file; its settings override the defaults. */
  file?: string;
  /** Already-parsed settings that override the file (the CLI flags). */
  overrides?: ConfigInput;
}

/** defaults ← file ← overrides, validated once and deep-frozen. Throws ConfigError. */
export function loadConfig(options: LoadConfigOptions = {}): SynpoolConfig {
  const fromFile = options.file === undefined ? undefined : readConfigFile(options.file);
  return validateConfig(fromFile, options.overrides);
}

/** The upstream after its host was resolved, once, at start. */
export interface UpstreamTarget {
  /** As configured, e.g. "http://backend.internal:8080". */
  readonly url: string;
  /** The resolved endpoint every connection goes to (an IPv6 literal: canonical, no brackets). */
  readonly endpoint: Endpoint;
  /** The Host header sent upstream when preserveHost is false ("backend.internal:8080"). */
  readonly hostHeader: string;
  /**
   * undici origin: "http://10.0.0.2:8080", "https://10.0.0.2:8443" or "http://[fd00::2]:8080". The host is the resolved
   * address (the pool is keyed by it); for https the name to verify is `servername`.
   */
  readonly origin: string;
  readonly protocol: 'http:' | 'https:';
  /** https: the URL's host (a name, an IPv4 literal or an unbracketed IPv6 literal), for SNI and the certificate check. */
  readonly servername: string;
}

export type Ipv4Lookup = (hostname: string) => Promise<string>;

const defaultLookup: Ipv4Lookup = async (hostname) => (await dnsLookup(hostname, { family: 4 })).address;

/** Resolves the upstream URL's host to one IPv4 address. Throws ConfigError naming `upstream`. */
export async function resolveUpstream(url: string, lookup: Ipv4Lookup = defaultLookup): Promise<UpstreamTarget> {
  const { protocol, hostname, port, hostHeader } = parseUpstreamUrl('upstream', url);
  let address = hostname;
  if (isIP(hostname) === 0) {
    try {
      address = await lookup(hostname);
    } catch (err) {
      throw new ConfigError('upstream', `cannot resolve ${JSON.stringify(hostname)} to an IPv4 address: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  return Object.freeze({
    url,
    endpoint: Object.freeze({ address, port }),
    hostHeader,
    origin: `${protocol}//${formatEndpoint({ address, port })}`,
    protocol,
    servername: hostname,
  });
}

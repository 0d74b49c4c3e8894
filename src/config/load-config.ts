import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors.js';
import { formatEndpoint, type Endpoint } from '../handshake/endpoint.js';
import { systemLookup, usableEndpoints, type AddressLookup } from '../resolve/address-lookup.js';
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

/** The upstream after its host was resolved at start. */
export interface UpstreamTarget {
  /** As configured, e.g. "http://backend.internal:8080". */
  readonly url: string;
  /** The URL's host as written, without brackets: an IP literal or a name. */
  readonly hostname: string;
  readonly port: number;
  /** True for a name: its addresses are re-resolved every resolveIntervalMs (src/resolve/). */
  readonly resolvable: boolean;
  /** Every usable address the host resolved to at start, in the resolver's order (one for a literal). */
  readonly endpoints: readonly Endpoint[];
  /** The first of `endpoints`: the one address of a literal or single-address name. */
  readonly endpoint: Endpoint;
  /** The Host header sent upstream when preserveHost is false ("backend.internal:8080"). */
  readonly hostHeader: string;
  /**
   * undici origin of `endpoint`: "http://10.0.0.2:8080". The host is an address (the pool
   * is keyed by it); for https the name to verify is `servername`.
   */
  readonly origin: string;
  readonly protocol: 'http:' | 'https:';
  /** https: the URL's host as written (a name or an IP literal), for SNI and the certificate check. */
  readonly servername: string;
}

/** @deprecated The lookup may now answer with every address: use AddressLookup. */
export type Ipv4Lookup = AddressLookup;

/** undici origin for one address of an upstream (IPv6 in brackets). */
export function originOf(protocol: 'http:' | 'https:', endpoint: Endpoint): string {
  return `${protocol}//${formatEndpoint(endpoint)}`;
}

/**
 * Resolves the upstream URL's host to every usable address (a literal is its
 * own). Throws ConfigError naming `upstream` when a name has none.
 */
export async function resolveUpstream(url: string, lookup: AddressLookup = systemLookup): Promise<UpstreamTarget> {
  const { protocol, hostname, port, hostHeader } = parseUpstreamUrl('upstream', url);
  const literal = isIP(hostname) !== 0;
  let answer: string | readonly string[] = hostname;
  if (!literal) {
    try {
      answer = await lookup(hostname);
    } catch (err) {
      throw new ConfigError('upstream', `cannot resolve ${JSON.stringify(hostname)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  const { endpoints, skipped } = usableEndpoints(answer, port);
  const first = endpoints[0];
  if (first === undefined) {
    const why = skipped.length > 0 ? skipped.map((s) => `${s.address}: ${s.reason}`).join('; ') : 'no address';
    throw new ConfigError('upstream', `${JSON.stringify(hostname)} resolves to no usable address (${why})`);
  }
  return Object.freeze({
    url,
    hostname,
    port,
    resolvable: !literal,
    endpoints: Object.freeze(endpoints.map((e) => Object.freeze(e))),
    endpoint: first,
    hostHeader,
    origin: originOf(protocol, first),
    protocol,
    servername: hostname,
  });
}

import { ConfigError } from '../errors.js';
import { describeHost, hostCovers, parseHostPattern, requestHostName, type HostPattern } from './host-pattern.js';

/** A route as configured: every field it has must match; none at all is the default route. */
export interface RouteInput {
  host?: string;
  pathPrefix?: string;
  upstream: string;
}

export interface Route {
  /** Position in the configured list: the first matching route wins. */
  readonly index: number;
  readonly host: HostPattern | undefined;
  /**
   * Raw string prefix of the request path, like nginx `location /v1`: "/v1" matches
   * "/v1", "/v1/x" and "/v10". Compared with the path as received (no percent-decoding,
   * no dot-segment removal, case-sensitive): routing is not access control.
   */
  readonly pathPrefix: string | undefined;
  readonly upstream: string;
}

const ROUTE_KEYS = ['host', 'pathPrefix', 'upstream'];
const MAX_PREFIX = 1024;

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function parsePathPrefix(value: unknown, field: string): string {
  const allowed = 'a path starting with "/", without "?", "#", spaces or control characters (e.g. "/api/")';
  const fail = (why: string): never => {
    throw new ConfigError(field, `${why} (got ${JSON.stringify(value)}; allowed: ${allowed})`);
  };
  if (typeof value !== 'string') return fail('not a string');
  if (!value.startsWith('/')) return fail('does not start with "/"');
  if (value.length > MAX_PREFIX) return fail(`longer than ${MAX_PREFIX} characters`);
  // The request path compared against is the target up to "?": a "?" here could never match.
  if (/[?#\s\x00-\x1f\x7f]/.test(value)) return fail('contains "?", "#", a space or a control character');
  return value;
}

function parseRoute(value: unknown, index: number, upstreams: ReadonlySet<string>, field: string): Route {
  const at = `${field}[${index}]`;
  if (!isRecord(value)) throw new ConfigError(at, `not an object (got ${JSON.stringify(value)}; allowed: { host?, pathPrefix?, upstream })`);
  for (const key of Object.keys(value)) {
    if (!ROUTE_KEYS.includes(key)) throw new ConfigError(`${at}.${key}`, `unknown field; allowed: ${ROUTE_KEYS.join(', ')}`);
  }
  const upstream = value.upstream;
  if (typeof upstream !== 'string' || !upstreams.has(upstream)) {
    const known = upstreams.size === 0 ? 'none configured' : `configured: ${[...upstreams].join(', ')}`;
    throw new ConfigError(`${at}.upstream`, `${upstream === undefined ? 'is required' : `unknown upstream ${JSON.stringify(upstream)}`} (${known})`);
  }
  return {
    index,
    host: value.host === undefined ? undefined : parseHostPattern(value.host, `${at}.host`),
    pathPrefix: value.pathPrefix === undefined ? undefined : parsePathPrefix(value.pathPrefix, `${at}.pathPrefix`),
    upstream,
  };
}

/** Every request `inner` matches is matched by `outer` (so after `outer`, `inner` never wins). */
function routeCovers(outer: Route, inner: Route): boolean {
  if (!hostCovers(outer.host, inner.host)) return false;
  if (outer.pathPrefix === undefined) return true;
  return inner.pathPrefix !== undefined && inner.pathPrefix.startsWith(outer.pathPrefix);
}

function describeRoute(route: Route): string {
  const parts: string[] = [];
  if (route.host !== undefined) parts.push(`host ${describeHost(route.host)}`);
  if (route.pathPrefix !== undefined) parts.push(`pathPrefix ${route.pathPrefix}`);
  return parts.length === 0 ? 'a catch-all' : parts.join(', ');
}

/**
 * Routes compiled for per-request lookup. For each configured exact host and each
 * wildcard suffix, the routes that can apply to it (its own, the wildcards covering
 * it, the host-less ones) are listed once, in configured order; a request does one
 * Map lookup (or one per label for a wildcard) and then tries path prefixes in order.
 */
export class RouteTable {
  readonly routes: readonly Route[];
  readonly #byName = new Map<string, readonly Route[]>();
  readonly #bySuffix = new Map<string, readonly Route[]>();
  readonly #anyHost: readonly Route[];
  readonly #anyHostOnly: boolean;

  constructor(routes: readonly Route[]) {
    this.routes = routes;
    this.#anyHost = routes.filter((r) => r.host === undefined);
    this.#anyHostOnly = this.#anyHost.length === routes.length;
    for (const route of routes) {
      const host = route.host;
      if (host === undefined) continue;
      const [map, key] = host.kind === 'exact' ? [this.#byName, host.name] : [this.#bySuffix, host.suffix];
      if (map.has(key)) continue;
      map.set(key, routes.filter((r) => hostCovers(r.host, host)));
    }
  }

  /**
   * The first route matching a request's Host header (as received: port, case and a
   * trailing dot do not matter) and path (origin-form, query included); undefined
   * when none does (the caller answers, e.g. 404).
   */
  match(hostHeader: string | undefined, path: string): Route | undefined {
    // No route names a host (the one-upstream default): the Host header is not even read.
    const candidates = this.#anyHostOnly ? this.#anyHost : this.#candidates(requestHostName(hostHeader));
    for (const route of candidates) {
      if (route.pathPrefix === undefined || path.startsWith(route.pathPrefix)) return route;
    }
    return undefined;
  }

  #candidates(name: string | undefined): readonly Route[] {
    if (name === undefined) return this.#anyHost;
    const exact = this.#byName.get(name);
    if (exact !== undefined) return exact;
    if (this.#bySuffix.size > 0) {
      // Longest suffix first: its list already holds every shorter wildcard that matches.
      for (let dot = name.indexOf('.', 1); dot > 0; dot = name.indexOf('.', dot + 1)) {
        const list = this.#bySuffix.get(name.slice(dot));
        if (list !== undefined) return list;
      }
    }
    return this.#anyHost;
  }
}

/**
 * Validates and compiles `routes` (an array of RouteInput) against the upstream names.
 * Errors name the field path (`routes[2].upstream`). A route is refused as unreachable
 * only when one earlier route alone matches every request it would (its host covers
 * this one's and its path prefix is a prefix of this one's): conservative, since a
 * route covered only by several earlier ones together is not detected.
 */
export function compileRoutes(input: unknown, upstreams: Iterable<string>, field = 'routes'): RouteTable {
  if (!Array.isArray(input)) throw new ConfigError(field, `not a list (got ${JSON.stringify(input)}; allowed: a list of { host?, pathPrefix?, upstream })`);
  const known = new Set(upstreams);
  const routes = input.map((value: unknown, i) => parseRoute(value, i, known, field));
  for (const route of routes) {
    const earlier = routes.slice(0, route.index).find((r) => routeCovers(r, route));
    if (earlier !== undefined) {
      throw new ConfigError(
        `${field}[${route.index}]`,
        `can never match: ${field}[${earlier.index}] (${describeRoute(earlier)}) comes first and matches every request this one (${describeRoute(route)}) would; put the more specific route first`,
      );
    }
  }
  return new RouteTable(Object.freeze(routes.map((r) => Object.freeze(r))));
}

import type { RouteTable } from '../routing/route-table.js';
import type { ServerDispatch, UpstreamGroup } from './upstream-group.js';

/** Why a request could not be given a server: no route matched (404), or every server of its upstream is ejected (503). */
export interface RouteRefusal {
  readonly status: 404 | 503;
  readonly code: 'NO_ROUTE' | 'NO_SERVER_AVAILABLE';
  readonly message: string;
  /** The upstream the route named (503), for the log. */
  readonly upstream: string | undefined;
}

export interface RoutedRequest {
  readonly upstream: UpstreamGroup;
  readonly server: ServerDispatch;
  /** Index of the route that matched, in the configured list. */
  readonly route: number;
}

/**
 * Per request: the route (Host and path), then the upstream's server (its balancing
 * policy, passive health), then the server's origin (its addresses). Built from one
 * configuration; a reload builds a new one and swaps it in.
 */
export class RequestRouter {
  constructor(
    readonly table: RouteTable,
    readonly upstreams: ReadonlyMap<string, UpstreamGroup>,
  ) {}

  route(hostHeader: string | undefined, path: string): RoutedRequest | RouteRefusal {
    const route = this.table.match(hostHeader, path);
    if (route === undefined) return { status: 404, code: 'NO_ROUTE', message: 'no route for this host and path', upstream: undefined };
    const upstream = this.upstreams.get(route.upstream)!;
    const server = upstream.pick();
    if (server === undefined) {
      return { status: 503, code: 'NO_SERVER_AVAILABLE', message: `no server of upstream ${route.upstream} is available`, upstream: route.upstream };
    }
    return { upstream, server, route: route.index };
  }

  /** Every upstream has a server that is not ejected (/readyz). */
  get ready(): boolean {
    for (const u of this.upstreams.values()) if (!u.ready) return false;
    return true;
  }
}

export function isRefusal(r: RoutedRequest | RouteRefusal): r is RouteRefusal {
  return (r as RouteRefusal).status !== undefined;
}

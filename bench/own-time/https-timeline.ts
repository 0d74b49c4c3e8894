// Where an HTTPS request's time goes through a proxy, from packet captures:
// per request, client request in (loopback) → ClientHello out → server flight in
// → Finished + request out → response in → response out, and the waits on the
// link between them. Reads the pcaps of a `tcpdump -i any` in the client
// namespace (loopback and link, one clock) and, optionally, one in the server
// namespace (the upstream's own time per flight). One request at a time: each
// request takes the first upstream connection whose first payload leaves after it.
// The command line is https-timeline-cli.ts.
import type { CapturedSegment } from './captured-segment.js';

export interface HttpsTimeline {
  clientPort: number;
  upstreamLocalPort: number;
  /** pool: the upstream connection's SYN left before the request came in. */
  connection: 'pool' | 'plain';
  /** Every duration in ms. The client's SYN on loopback → its request segment (the load generator's time). */
  clientSynToRequest: number;
  /** Request in → the first payload toward the upstream (a ClientHello; after a connect for plain). */
  requestToClientHello: number;
  /** ClientHello out → first server payload in (one round trip + the server's work). */
  helloRoundTrip: number;
  /** Server flight in → the next payload out (client Finished + request). */
  flightToRequest: number;
  /** Request out → first response payload in. */
  requestRoundTrip: number;
  /** First → last server payload of the response flight, as it arrived. */
  responseSpread: number;
  /** Last server payload in → first payload to the client on loopback (negative: relayed before the close_notify came). */
  responseToClient: number;
  /** Client SYN → last payload to the client. */
  total: number;
  /** Server side (with --server): payload in → first payload out, for the ClientHello and for the request. */
  serverHello: number | undefined;
  serverRequest: number | undefined;
}

const ms = (us: number): number => us / 1000;

function key(s: CapturedSegment): string {
  return `${s.src}:${s.sport}>${s.dst}:${s.dport}/${s.syn ? 'S' : ''}${s.fin ? 'F' : ''}${s.rst ? 'R' : ''}/${s.payloadLength}/${Math.round(s.tUs / 10)}`;
}

/** `-i any` sees a loopback segment twice (out and in): keep one. */
function dedupe(segments: readonly CapturedSegment[]): CapturedSegment[] {
  const seen = new Set<string>();
  return segments.filter((s) => {
    const k = key(s);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function byLocalPort(segments: readonly CapturedSegment[], upstreamPort: number): Map<number, CapturedSegment[]> {
  const conns = new Map<number, CapturedSegment[]>();
  for (const s of segments) {
    const local = s.dport === upstreamPort ? s.sport : s.sport === upstreamPort ? s.dport : undefined;
    if (local === undefined) continue;
    let list = conns.get(local);
    if (list === undefined) conns.set(local, (list = []));
    list.push(s);
  }
  return conns;
}

export function httpsTimelines(
  client: readonly CapturedSegment[],
  server: readonly CapturedSegment[] | undefined,
  o: { proxyPort: number; upstreamPort: number },
): HttpsTimeline[] {
  const sorted = dedupe([...client].sort((a, b) => a.tUs - b.tUs));
  const loop = sorted.filter((s) => s.dport === o.proxyPort || s.sport === o.proxyPort);
  const upstream = byLocalPort(sorted, o.upstreamPort);
  const serverConns = server === undefined ? undefined : byLocalPort([...server].sort((a, b) => a.tUs - b.tUs), o.upstreamPort);
  const requests = new Map<number, CapturedSegment>();
  for (const s of loop) if (s.dport === o.proxyPort && s.payloadLength > 0 && !requests.has(s.sport)) requests.set(s.sport, s);

  const used = new Set<number>();
  const out: HttpsTimeline[] = [];
  for (const [clientPort, req] of [...requests].sort((a, b) => a[1].tUs - b[1].tUs)) {
    const syn = loop.find((s) => s.sport === clientPort && s.dport === o.proxyPort && s.syn);
    const toClient = loop.filter((s) => s.sport === o.proxyPort && s.dport === clientPort && s.payloadLength > 0);
    let pick: { port: number; first: number } | undefined;
    for (const [port, segs] of upstream) {
      if (used.has(port)) continue;
      const first = segs.find((s) => s.sport === port && s.payloadLength > 0);
      if (first === undefined || first.tUs < req.tUs) continue;
      if (pick === undefined || first.tUs < pick.first) pick = { port, first: first.tUs };
    }
    if (pick === undefined || syn === undefined || toClient.length === 0) continue;
    used.add(pick.port);
    const segs = upstream.get(pick.port)!;
    const outs = segs.filter((s) => s.sport === pick.port && s.payloadLength > 0);
    const ins = segs.filter((s) => s.dport === pick.port && s.payloadLength > 0);
    const hello = outs[0]!.tUs;
    const flightIn = ins.find((s) => s.tUs > hello)?.tUs;
    const requestOut = flightIn === undefined ? undefined : outs.find((s) => s.tUs > flightIn)?.tUs;
    const responseIn = requestOut === undefined ? undefined : ins.find((s) => s.tUs > requestOut)?.tUs;
    if (flightIn === undefined || requestOut === undefined || responseIn === undefined) continue;
    const responseLast = ins[ins.length - 1]!.tUs;
    const ownSyn = segs.find((s) => s.sport === pick.port && s.syn && !s.ack);
    let serverHello: number | undefined;
    let serverRequest: number | undefined;
    const ss = serverConns?.get(pick.port);
    if (ss !== undefined) {
      const sIn = ss.filter((s) => s.sport === pick.port && s.payloadLength > 0);
      const sOut = ss.filter((s) => s.dport === pick.port && s.payloadLength > 0);
      const reply = (t: number): number | undefined => {
        const r = sOut.find((s) => s.tUs >= t);
        return r === undefined ? undefined : ms(r.tUs - t);
      };
      if (sIn[0] !== undefined) serverHello = reply(sIn[0].tUs);
      if (sIn[1] !== undefined) serverRequest = reply(sIn[1].tUs);
    }
    out.push({
      clientPort,
      upstreamLocalPort: pick.port,
      connection: ownSyn !== undefined && ownSyn.tUs < req.tUs ? 'pool' : 'plain',
      clientSynToRequest: ms(req.tUs - syn.tUs),
      requestToClientHello: ms(hello - req.tUs),
      helloRoundTrip: ms(flightIn - hello),
      flightToRequest: ms(requestOut - flightIn),
      requestRoundTrip: ms(responseIn - requestOut),
      responseSpread: ms(responseLast - responseIn),
      responseToClient: ms(toClient[0]!.tUs - responseLast),
      total: ms(toClient[toClient.length - 1]!.tUs - syn.tUs),
      serverHello,
      serverRequest,
    });
  }
  return out;
}

export const TIMELINE_COLUMNS = [
  'clientSynToRequest', 'requestToClientHello', 'helloRoundTrip', 'serverHello', 'flightToRequest',
  'requestRoundTrip', 'serverRequest', 'responseSpread', 'responseToClient', 'total',
] as const;

export function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

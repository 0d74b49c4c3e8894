import type { Socket } from 'node:net';

/**
 * undici 7's HTTP/1 parser destroys the connection when a response begins with
 * `100 Continue` (lib/dispatcher/client-h1.js, onHeadersComplete: "bad response"), so
 * the final response that follows is lost. RFC 9110 §15.2 says a client must accept
 * an unsolicited 100. This filter sits on the upstream socket's read(), which is how
 * undici pulls bytes ('readable' + read()), and removes complete 100 heads found at
 * the start of a response before the parser sees them. Other 1xx (102, 103…) reach
 * undici untouched: it reports them to the handler as responses below 200.
 *
 * Only the start of a response is inspected: the socket is armed when a request is
 * written on it, and disarmed by the first byte that cannot begin a 100 head. That
 * relies on undici's default `pipelining: 1` (the agent never raises it): the next
 * request is written only after the previous response was parsed to its end, so a
 * body that happens to contain "HTTP/1.1 100" is never inspected.
 */
export interface ResponseStartListener {
  /** A byte of the response arrived (held here, so undici has not seen it yet). */
  started(): void;
  /** A complete 100 head was removed from the stream. */
  interim(statusCode: number, statusText: string, rawHeaders: Buffer[]): void;
}

interface FilterState {
  armed: boolean;
  held: Buffer | null;
  listener: ResponseStartListener | undefined;
}

const kState = Symbol('synpool.continueFilter');
type FilteredSocket = Socket & { [kState]?: FilterState };

/** A 100 head larger than this is left to undici, which rejects it. */
const MAX_HEAD_BYTES = 16 * 1024;
const PREFIX = 'HTTP/1.x 100';

type Verdict = { kind: 'continue'; end: number } | { kind: 'partial' } | { kind: 'other' };

/** Does `buf` start with a 100 head, a prefix of one, or something else? */
export function classifyResponseStart(buf: Buffer): Verdict {
  const n = Math.min(buf.length, PREFIX.length);
  for (let i = 0; i < n; i++) {
    const c = buf[i] as number;
    const ok = i === 7 ? c >= 0x30 && c <= 0x39 : c === PREFIX.charCodeAt(i);
    if (!ok) return { kind: 'other' };
  }
  if (buf.length <= PREFIX.length) return { kind: 'partial' };
  const next = buf[PREFIX.length];
  if (next !== 0x20 && next !== 0x0d) return { kind: 'other' }; // "HTTP/1.1 1000": not a 100
  const end = buf.indexOf('\r\n\r\n', PREFIX.length, 'latin1');
  if (end === -1) return buf.length > MAX_HEAD_BYTES ? { kind: 'other' } : { kind: 'partial' };
  return end + 4 > MAX_HEAD_BYTES ? { kind: 'other' } : { kind: 'continue', end: end + 4 };
}

function parseHead(head: Buffer): { statusText: string; rawHeaders: Buffer[] } {
  const lines = head.toString('latin1').split('\r\n');
  const statusText = (lines[0] ?? '').slice(PREFIX.length).trim();
  const rawHeaders: Buffer[] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    rawHeaders.push(Buffer.from(line.slice(0, colon).trim(), 'latin1'), Buffer.from(line.slice(colon + 1).trim(), 'latin1'));
  }
  return { statusText, rawHeaders };
}

function install(socket: FilteredSocket): FilterState {
  const state: FilterState = { armed: false, held: null, listener: undefined };
  socket[kState] = state;
  const read = socket.read.bind(socket);
  socket.read = (size?: number): ReturnType<Socket['read']> => {
    if (!state.armed || size !== undefined) return read(size);
    // Until a byte that undici must see, or the readable buffer is empty (each turn consumes a chunk).
    for (;;) {
      const chunk = read() as Buffer | null;
      if (chunk === null) return null;
      let buf = state.held === null ? chunk : Buffer.concat([state.held, chunk]);
      state.held = null;
      state.listener?.started();
      for (;;) {
        const verdict = classifyResponseStart(buf);
        if (verdict.kind === 'other') {
          state.armed = false;
          state.listener = undefined;
          return buf;
        }
        if (verdict.kind === 'partial') {
          state.held = buf;
          break;
        }
        const { statusText, rawHeaders } = parseHead(buf.subarray(0, verdict.end));
        state.listener?.interim(100, statusText, rawHeaders);
        buf = buf.subarray(verdict.end);
        if (buf.length === 0) break;
      }
    }
  };
  return state;
}

/** Arms the filter for the response to a request just written on `socket`. */
export function expectResponse(socket: Socket, listener: ResponseStartListener): void {
  const s = socket as FilteredSocket;
  const state = s[kState] ?? install(s);
  state.armed = true;
  state.held = null;
  state.listener = listener;
}

/** The socket leaves HTTP (an upgrade): never filter it again. */
export function disarm(socket: Socket): void {
  const state = (socket as FilteredSocket)[kState];
  if (state !== undefined) {
    state.armed = false;
    state.listener = undefined;
  }
}

import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { HTTPParser } from './lean-parser.js';
import { endWithText } from './raw-response.js';

export interface RequestLineGuardOptions {
  /** An HTTP/0.9 line was answered 400 here and its connection closed; no request was made of it. */
  onRejected(): void;
}

/** A request line longer than this is left to node:http (which answers 414/431 or 400 itself). */
const MAX_LINE_BYTES = 8 * 1024;
/** `METHOD SP request-target` and nothing else: RFC 1945's simple request, HTTP/0.9. */
const HTTP_09_LINE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [^ ]+$/;

/** What node:http leaves on a connection's socket: its parser, which consumes the socket natively. */
interface ServerParser {
  /** The request being parsed; null until a request head is complete. */
  incoming: unknown;
  /** The bytes of the read being reported to kOnExecute (a copy). */
  getCurrentBuffer(): Buffer;
  [key: number]: unknown;
}

type ExecuteHook = (this: unknown, ret: unknown) => unknown;

/**
 * An HTTP/0.9 client sends `GET /` and one CRLF, then waits for the body: node:http's
 * parser takes that for an unfinished header section and holds the connection until its
 * headers timeout. Here the first line is judged as soon as it is complete, a line
 * without a version is answered 400 and the connection closed.
 *
 * It watches without reading: node:http consumes the socket natively and, after each
 * read, calls its parser's `kOnExecute` hook, during which the parser's current buffer is
 * the bytes just read. The hook is wrapped on a new connection and restored as soon as a
 * request head completes or the first line is judged, so a connection whose first read
 * holds a whole request (nearly all) pays one check. Until stop 23 the guard read the
 * first chunk itself in JS and pushed it back (`unshift`), which cost every new client
 * connection 0.1–0.2 ms of own time after idleness (own-time bench, A/B).
 *
 * A line still incomplete is left to node:http's own headers timeout (408). When
 * node:http does not consume the socket natively (its shape changed), nothing is judged
 * and an HTTP/0.9 client waits out that timeout.
 */
export class RequestLineGuard {
  readonly #options: RequestLineGuardOptions;

  constructor(server: Server, options: RequestLineGuardOptions) {
    this.#options = options;
    // After node:http's own listener, which gives the socket its parser.
    if (HTTPParser !== undefined) server.on('connection', (socket: Socket) => this.#watch(socket));
  }

  #watch(socket: Socket): void {
    const parser = (socket as Socket & { parser?: ServerParser | null }).parser;
    const kOnExecute = HTTPParser!.kOnExecute;
    if (parser == null || parser.incoming !== null || typeof parser.getCurrentBuffer !== 'function') return;
    const builtin = parser[kOnExecute] as ExecuteHook | undefined;
    if (typeof builtin !== 'function') return;
    let head: Buffer | null = null;
    const onRejected = this.#options.onRejected;
    parser[kOnExecute] = function (this: unknown, ret: unknown): unknown {
      if (parser.incoming !== null || socket.destroyed) {
        parser[kOnExecute] = builtin;
        return builtin.call(this, ret);
      }
      const chunk = parser.getCurrentBuffer();
      head = head === null ? chunk : Buffer.concat([head, chunk]);
      const lf = head.indexOf(0x0a);
      if (lf === -1 && head.length < MAX_LINE_BYTES) return builtin.call(this, ret);
      parser[kOnExecute] = builtin;
      if (lf !== -1 && HTTP_09_LINE.test(head.toString('latin1', 0, lf).replace(/\r$/, ''))) {
        // node:http's parser is left waiting for headers (or failed on them): it never hears of this.
        endWithText(socket, 400, 'HTTP/0.9 is not supported');
        onRejected();
        return undefined;
      }
      return builtin.call(this, ret);
    };
  }
}

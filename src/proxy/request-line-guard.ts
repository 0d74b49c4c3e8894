import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { endWithText } from './raw-response.js';

/** How a connection's first request line was judged before node:http saw it. */
export type RequestLineVerdict = 'http-0.9' | 'timeout';

export interface RequestLineGuardOptions {
  /** The whole first line must arrive within this (ms); else 408 and close. */
  timeoutMs: number;
  /** A connection was answered here and closed; node:http never saw it. */
  onRejected(verdict: RequestLineVerdict): void;
}

/** A request line longer than this is left to node:http (which answers 414/431 or 400 itself). */
const MAX_LINE_BYTES = 8 * 1024;
/** `METHOD SP request-target` and nothing else: RFC 1945's simple request, HTTP/0.9. */
const HTTP_09_LINE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [^ ]+$/;

/**
 * Reads each new connection's first line before node:http does. An HTTP/0.9
 * client sends `GET /` and one CRLF, then waits for the body: node:http's
 * parser takes that for an unfinished header section and holds the connection
 * until its headers timeout. Here the line is judged at once: a line without a
 * version is answered 400 and closed; anything else goes back into the socket
 * (`unshift`) and on to node:http's own connection listener, which then
 * consumes the socket natively as usual (only this first read is in JS).
 *
 * node:http tracks a connection (closeAllConnections, its timeouts) only once
 * its listener has run, so sockets still being judged are tracked here and
 * `closeAll()` cuts them at shutdown.
 */
export class RequestLineGuard {
  readonly #judging = new Set<Socket>();

  constructor(server: Server, private readonly options: RequestLineGuardOptions) {
    const builtin = server.listeners('connection') as Array<(socket: Socket) => void>;
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => this.#judge(socket, () => {
      for (const listener of builtin) listener.call(server, socket);
    }));
  }

  /** Destroys the connections whose first line has not arrived yet. */
  closeAll(): void {
    for (const socket of this.#judging) socket.destroy();
    this.#judging.clear();
  }

  #judge(socket: Socket, handOver: () => void): void {
    this.#judging.add(socket);
    let head: Buffer | null = null;
    const done = (): void => {
      clearTimeout(timer);
      this.#judging.delete(socket);
      socket.removeListener('readable', onReadable);
      socket.removeListener('close', onClose);
      socket.removeListener('error', onError);
    };
    const reject = (verdict: RequestLineVerdict, status: number, message: string): void => {
      done();
      endWithText(socket, status, message);
      this.options.onRejected(verdict);
    };
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) head = head === null ? chunk : Buffer.concat([head, chunk]);
      if (head === null) return;
      const lf = head.indexOf(0x0a);
      if (lf === -1 && head.length < MAX_LINE_BYTES) return;
      if (lf !== -1 && HTTP_09_LINE.test(head.toString('latin1', 0, lf).replace(/\r$/, ''))) {
        reject('http-0.9', 400, 'HTTP/0.9 is not supported');
        return;
      }
      done();
      socket.unshift(head);
      handOver();
    };
    const onClose = (): void => done();
    const onError = (): void => {
      done();
      socket.destroy();
    };
    const timer = setTimeout(() => reject('timeout', 408, 'Request Timeout'), this.options.timeoutMs);
    socket.on('readable', onReadable);
    socket.once('close', onClose);
    socket.once('error', onError);
  }
}

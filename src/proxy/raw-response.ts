import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { serializeResponseHead, type HeaderPair } from './headers.js';

/**
 * A short text response written straight to a socket that has no (or no more)
 * node:http response object, then the close: a malformed request, CONNECT, a
 * refused upgrade, an HTTP/0.9 line.
 */
export function endWithText(socket: Socket, status: number, message: string): void {
  const body = `${message}\n`;
  const pairs: HeaderPair[] = [
    ['content-type', 'text/plain; charset=utf-8'],
    ['content-length', String(Buffer.byteLength(body))],
    ['via', '1.1 synpool'],
    ['connection', 'close'],
  ];
  socket.on('error', () => undefined);
  socket.end(serializeResponseHead(status, STATUS_CODES[status] ?? '', pairs) + body);
  socket.destroySoon();
}

// A small RFC 6455 server on node:http, enough for relaying tests: it greets each
// client with "hello", echoes every text message as "echo:<text>", answers a close
// frame with a close frame and ends the connection. Unfragmented frames only.
import { createHash } from 'node:crypto';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export interface WebSocketEchoServer {
  url: string;
  port: number;
  /** Text messages received, in order. */
  received: string[];
  /** Close codes received from clients. */
  closeCodes: number[];
  /** Request headers of each upgrade request. */
  upgradeHeaders: http.IncomingHttpHeaders[];
  close(): Promise<void>;
}

function frame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, len]) : Buffer.from([0x80 | opcode, 126, len >> 8, len & 0xff]);
  return Buffer.concat([head, payload]);
}

/** Complete client frames at the start of `buf`: [frames, bytes consumed]. */
function parseFrames(buf: Buffer): [{ opcode: number; payload: Buffer }[], number] {
  const frames: { opcode: number; payload: Buffer }[] = [];
  let off = 0;
  while (buf.length - off >= 2) {
    const opcode = (buf[off] as number) & 0x0f;
    const masked = ((buf[off + 1] as number) & 0x80) !== 0;
    let len = (buf[off + 1] as number) & 0x7f;
    let p = off + 2;
    if (len === 126) {
      if (buf.length < p + 2) break;
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (buf.length < p + 8) break;
      len = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    const maskLen = masked ? 4 : 0;
    if (buf.length < p + maskLen + len) break;
    const mask = buf.subarray(p, p + maskLen);
    const payload = Buffer.from(buf.subarray(p + maskLen, p + maskLen + len));
    if (masked) for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] as number) ^ (mask[i % 4] as number);
    frames.push({ opcode, payload });
    off = p + maskLen + len;
  }
  return [frames, off];
}

export async function startWebSocketEchoServer(host = '127.0.0.1'): Promise<WebSocketEchoServer> {
  const received: string[] = [];
  const closeCodes: number[] = [];
  const upgradeHeaders: http.IncomingHttpHeaders[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end('websocket only\n');
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    upgradeHeaders.push(req.headers);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const key = req.headers['sec-websocket-key'];
    if (typeof key !== 'string' || String(req.headers.upgrade).toLowerCase() !== 'websocket') {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    const accept = createHash('sha1').update(key + GUID).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nX-Upstream: ws-echo\r\n\r\n`);
    socket.write(frame(0x1, Buffer.from('hello')));
    let pending = head;
    const onData = (chunk: Buffer): void => {
      pending = Buffer.concat([pending, chunk]);
      const [frames, used] = parseFrames(pending);
      pending = pending.subarray(used);
      for (const f of frames) {
        if (f.opcode === 0x1) {
          const text = f.payload.toString('utf8');
          received.push(text);
          socket.write(frame(0x1, Buffer.from(`echo:${text}`)));
        } else if (f.opcode === 0x8) {
          closeCodes.push(f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005);
          socket.end(frame(0x8, f.payload.subarray(0, 2)));
        } else if (f.opcode === 0x9) {
          socket.write(frame(0xa, f.payload));
        }
      }
    };
    socket.on('data', onData);
    if (head.length > 0) onData(Buffer.alloc(0));
  });
  server.listen(0, host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    received,
    closeCodes,
    upgradeHeaders,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      server.close();
      await once(server, 'close').catch(() => undefined);
    },
  };
}

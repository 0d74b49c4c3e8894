// The lean HTTP floor: the least an HTTP proxy that parses both sides does per
// request in Node. node:http takes the client's request (as synpool's does), and
// the upstream side is written by hand over connections kept open to the
// keep-alive upstream: one request head built from the raw headers, one write;
// the response head found and read by hand (status line, Content-Length), the
// body collected, one writeHead and end. No client library, no pool, no retries,
// no logging. What synpool spends beyond it is undici and its own features;
// what it spends is Node's (node:http's included) after idleness here.
//   node dist/bench/own-time/lean-proxy.js --upstream ADDR:PORT --listen HOST:PORT
// Prints {"listening": PORT} once it accepts connections; exits on SIGTERM/SIGINT.
//
// A floor, not a proxy: a request with a body is answered 502 without going
// upstream; a response without Content-Length (chunked, or ended by close), an
// interim (1xx) response, or bytes after the response are answered 502 and cost
// the upstream connection.
import http from 'node:http';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { KeptConnections } from './kept-connections.js';

const { values } = parseArgs({ options: { upstream: { type: 'string' }, listen: { type: 'string', default: '127.0.0.1:0' } } });
if (values.upstream === undefined) throw new Error('--upstream ADDR:PORT is required');
const [upHost, upPort] = values.upstream.split(':') as [string, string];
const [host, port] = values.listen.split(':') as [string, string];

const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
const HEAD_END = Buffer.from('\r\n\r\n');
const MAX_HEAD_BYTES = 16 * 1024;
const kept = new KeptConnections(upHost, Number(upPort));

interface Answer {
  status: number;
  /** Name, value, name, value… (hop-by-hop ones left out). */
  headers: string[];
  body: Buffer;
  keepAlive: boolean;
  /** HEAD, 204 or 304: no body, and no Content-Length of its own to give the client. */
  bodyless: boolean;
}

/** Parses a response head (latin1, without the blank line); undefined when it is not one this floor reads. */
function parseHead(head: string, isHead: boolean): { status: number; headers: string[]; length: number; keepAlive: boolean; bodyless: boolean } | undefined {
  const lines = head.split('\r\n');
  const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? '');
  if (m === null) return undefined;
  const headers: string[] = [];
  let length = -1;
  let keepAlive = m[1] === '1';
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    const lower = name.toLowerCase();
    if (lower === 'content-length') {
      length = Number(value);
      continue;
    }
    if (lower === 'transfer-encoding') return undefined;
    if (lower === 'connection') keepAlive = !/\bclose\b/i.test(value);
    if (!HOP.has(lower)) headers.push(name, value);
  }
  const status = Number(m[2]);
  if (status < 200) return undefined;
  if (isHead || status === 204 || status === 304) return { status, headers, length: 0, keepAlive, bodyless: true };
  if (!Number.isSafeInteger(length) || length < 0) return undefined;
  return { status, headers, length, keepAlive, bodyless: false };
}

/** One exchange on `up`: `done` gets the whole answer, or an error (the connection is then dropped). */
function exchange(up: net.Socket, head: string, isHead: boolean, done: (err: Error | null, answer?: Answer) => void): void {
  let buf: Buffer | null = null;
  let parsed: ReturnType<typeof parseHead>;
  let bodyStart = 0;
  const finish = (err: Error | null, answer?: Answer): void => {
    up.off('data', onData);
    up.off('close', onClose);
    up.off('error', onClose);
    done(err, answer);
  };
  const onData = (chunk: Buffer): void => {
    buf = buf === null ? chunk : Buffer.concat([buf, chunk]);
    if (parsed === undefined) {
      const end = buf.indexOf(HEAD_END);
      if (end === -1) {
        if (buf.length > MAX_HEAD_BYTES) finish(new Error('response head too large'));
        return;
      }
      parsed = parseHead(buf.toString('latin1', 0, end), isHead);
      if (parsed === undefined) return finish(new Error('response this floor does not read'));
      bodyStart = end + HEAD_END.length;
    }
    const have = buf.length - bodyStart;
    if (have < parsed.length) return;
    if (have > parsed.length) return finish(new Error('bytes after the response'));
    finish(null, { status: parsed.status, headers: parsed.headers, body: buf.subarray(bodyStart), keepAlive: parsed.keepAlive, bodyless: parsed.bodyless });
  };
  const onClose = (): void => finish(new Error('upstream connection closed'));
  up.on('data', onData);
  up.once('close', onClose);
  up.once('error', onClose);
  up.write(head, 'latin1');
}

const server = http.createServer((req, res) => {
  if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) {
    res.writeHead(502, { 'content-length': 0 }).end();
    return;
  }
  let head = `${req.method} ${req.url} HTTP/1.1\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (!HOP.has(raw[i]!.toLowerCase())) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  head += 'connection: keep-alive\r\n\r\n';
  const up = kept.take();
  exchange(up, head, req.method === 'HEAD', (err, answer) => {
    if (err !== null || answer === undefined) {
      up.destroy();
      if (!res.headersSent) res.writeHead(502, { 'content-length': 0 }).end();
      return;
    }
    if (answer.keepAlive) kept.give(up);
    else up.end();
    if (!answer.bodyless) answer.headers.push('content-length', String(answer.body.length));
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  });
});
server.keepAliveTimeout = 5_000;
server.listen(Number(port), host, 511, () => {
  process.stdout.write(`${JSON.stringify({ listening: (server.address() as net.AddressInfo).port })}\n`);
});
const stop = (): void => {
  server.close();
  server.closeAllConnections();
  kept.destroyAll();
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

#!/usr/bin/env node
// A plain Node HTTP upstream for the benchmarks and integration tests. No
// dependencies, no build step: bench/upstream/node-upstream.ts runs it inside
// the server namespace.
//
//   node http-server.mjs --host ADDR [--port N] [--backlog N]
//                        [--keep-alive-timeout-ms N] [--connection-close]
//                        [--exit-on-stdin-eof] [--tls-cert FILE --tls-key FILE]
//
// --exit-on-stdin-eof: stop when stdin closes, i.e. when the parent holding the
// other end of the pipe dies, even by SIGKILL.
// --tls-cert/--tls-key: serve HTTPS (node:https, TLS 1.2–1.3) with that PEM pair.
// Prints one line `{"listening": PORT}` on stdout once it accepts connections.
//
// Routes:
//   GET  /          200 "ok\n"
//   GET  /bytes/N   N bytes, streamed (N ≤ 100 MB)
//   POST /upload    reads the whole body, answers {"received": N}   (PUT too)
//   GET  /echo      {"method", "url", "headers"}
//   DELETE /x       204
//   GET  /reset     no answer: the request is read (the kernel acknowledged
//                   it), then the connection is reset (RST), the way an
//                   application may refuse a request
//   POST /refuse    413 at once, the body never read, the connection closed:
//                   an upload refused by its headers alone (PUT too)
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { parseArgs } from 'node:util';

const MAX_BYTES = 100 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 0x61); // 'a'

const { values } = parseArgs({
  options: {
    host: { type: 'string' },
    port: { type: 'string', default: '0' },
    backlog: { type: 'string', default: '511' },
    'keep-alive-timeout-ms': { type: 'string' },
    'connection-close': { type: 'boolean', default: false },
    'exit-on-stdin-eof': { type: 'boolean', default: false },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
  },
  strict: true,
});

if (!values.host) {
  process.stderr.write('http-server.mjs: --host is required\n');
  process.exit(64);
}
const connectionClose = values['connection-close'];

function send(res, status, body, type = 'text/plain') {
  const headers = { 'content-type': type, 'content-length': Buffer.byteLength(body) };
  if (connectionClose) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(body);
}

function sendBytes(res, n) {
  const headers = { 'content-type': 'application/octet-stream', 'content-length': n };
  if (connectionClose) headers.connection = 'close';
  res.writeHead(200, headers);
  let left = n;
  const pump = () => {
    while (left > 0) {
      const len = Math.min(left, CHUNK.length);
      left -= len;
      const more = res.write(len === CHUNK.length ? CHUNK : CHUNK.subarray(0, len));
      if (!more && left > 0) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

const tlsOptions = values['tls-cert'] ? { cert: readFileSync(values['tls-cert']), key: readFileSync(values['tls-key']) } : undefined;
const server = (tlsOptions ? createTlsServer.bind(null, tlsOptions) : createServer)((req, res) => {
  const url = req.url ?? '/';
  const method = req.method ?? 'GET';

  if (url === '/upload' && (method === 'POST' || method === 'PUT')) {
    let received = 0;
    req.on('data', (chunk) => {
      received += chunk.length;
    });
    req.on('end', () => send(res, 200, JSON.stringify({ received }), 'application/json'));
    req.on('error', () => res.destroy());
    return;
  }
  if (url === '/refuse' && (method === 'POST' || method === 'PUT')) {
    res.writeHead(413, { connection: 'close', 'content-type': 'text/plain' });
    return res.end('refused\n');
  }
  // Any other body is drained so keep-alive connections stay usable.
  req.resume();

  if (method === 'GET' && url === '/') return send(res, 200, 'ok\n');
  if (method === 'GET' && url === '/echo') {
    return send(res, 200, JSON.stringify({ method, url, headers: req.headers }), 'application/json');
  }
  const bytes = /^\/bytes\/(\d+)$/.exec(url);
  if (method === 'GET' && bytes) {
    const n = Number(bytes[1]);
    if (!Number.isSafeInteger(n) || n > MAX_BYTES) return send(res, 400, `at most ${MAX_BYTES} bytes\n`);
    return sendBytes(res, n);
  }
  if (method === 'GET' && url === '/reset') return req.socket.resetAndDestroy();
  if (method === 'DELETE' && url === '/x') {
    res.writeHead(204, connectionClose ? { connection: 'close' } : {});
    return res.end();
  }
  send(res, 404, 'not found\n');
});

if (values['keep-alive-timeout-ms'] !== undefined) {
  server.keepAliveTimeout = Number(values['keep-alive-timeout-ms']);
}

server.on('error', (err) => {
  process.stderr.write(`http-server.mjs: ${err.message}\n`);
  process.exit(1);
});

server.listen({ host: values.host, port: Number(values.port), backlog: Number(values.backlog) }, () => {
  process.stdout.write(JSON.stringify({ listening: server.address().port }) + '\n');
});

const shutdown = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  // Bounded: a stuck response must not keep the process alive.
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
if (values['exit-on-stdin-eof']) {
  process.stdin.on('end', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
}

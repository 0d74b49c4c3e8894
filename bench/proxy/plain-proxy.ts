// The baseline for bench/proxy/run.ts: a minimal reverse proxy, node:http in
// front of an undici Pool (keep-alive, plain connects), no logging, no
// metrics, no header rewriting beyond dropping hop-by-hop ones.
//   node dist/bench/proxy/plain-proxy.js --upstream http://ADDR:PORT --listen HOST:PORT [--keep-alive-ms N]
//     [--ca FILE --servername NAME]
// --keep-alive-ms: how long an idle upstream connection is kept (default 4000,
// undici's); the own-time bench's warm contender keeps its connections open
// across the seconds between its bursts. --ca/--servername: an https upstream,
// verified against that CA, the name sent as SNI (the harness's https scenarios).
// Prints {"listening": PORT} once it accepts connections.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({
  options: { upstream: { type: 'string' }, listen: { type: 'string', default: '127.0.0.1:0' }, 'keep-alive-ms': { type: 'string', default: '4000' }, ca: { type: 'string' }, servername: { type: 'string' } },
});
if (values.upstream === undefined) throw new Error('--upstream is required');
const keepAliveMs = Number(values['keep-alive-ms']);
if (!Number.isInteger(keepAliveMs) || keepAliveMs < 1) throw new Error(`--keep-alive-ms takes a positive integer, got ${values['keep-alive-ms']}`);
const [host, port] = values.listen.split(':') as [string, string];
const connect = values.ca === undefined ? undefined : { ca: readFileSync(values.ca), servername: values.servername };
const pool = new Pool(values.upstream, { connections: 256, keepAliveTimeout: keepAliveMs, keepAliveMaxTimeout: Math.max(keepAliveMs, 600_000), connect });
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection', 'host']);

const server = http.createServer(async (req, res) => {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP.has(k)) headers[k] = v;
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  try {
    const up = await pool.request({ method: req.method as 'GET', path: req.url ?? '/', headers, body: hasBody ? req : null });
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP.has(k)) out[k] = v;
    res.writeHead(up.statusCode, out);
    await pipeline(up.body, res);
  } catch {
    if (!res.headersSent) res.writeHead(502).end('upstream failed\n');
    else res.destroy();
  }
});
server.keepAliveTimeout = 5_000;
server.listen(Number(port), host, () => {
  process.stdout.write(`${JSON.stringify({ listening: (server.address() as { port: number }).port })}\n`);
});
const stop = (): void => {
  server.close();
  server.closeAllConnections();
  void pool.close().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 1_000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

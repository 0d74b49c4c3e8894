// The floor: a bare node:http server that answers every request from memory
// ("ok\n"), no upstream. The same capture around it shows what Node itself
// costs per request on this machine (request in → response out).
//   node dist/bench/own-time/floor-server.js --listen 127.0.0.1:PORT
// Prints {"listening": PORT} once it accepts connections; exits on SIGTERM/SIGINT.
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { listen: { type: 'string', default: '127.0.0.1:0' } } });
const [host, port] = values.listen.split(':') as [string, string];
const BODY = Buffer.from('ok\n');

const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length });
  res.end(BODY);
});
server.listen(Number(port), host, 511, () => {
  process.stdout.write(`${JSON.stringify({ listening: (server.address() as { port: number }).port })}\n`);
});
const stop = (): void => {
  server.close();
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

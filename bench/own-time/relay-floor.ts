// The relay floor: the least a Node proxy can do per request. A node:net server
// that relays bytes between each client connection and an upstream connection
// already open to the keep-alive upstream: no HTTP parser on either side, one
// read and one write per direction, no connection to make. What a proxy spends
// beyond it is HTTP (node:http, undici) and its own features; what it spends is
// Node's event loop and sockets after idleness on this machine.
//   node dist/bench/own-time/relay-floor.js --upstream ADDR:PORT --listen HOST:PORT
// Prints {"listening": PORT} once it accepts connections; exits on SIGTERM/SIGINT.
//
// Its only HTTP: the own-time client's `Connection: close`, in the request's one
// segment, becomes `Connection: keep-alive`, so the upstream keeps the connection
// for the next request. The client closes its connection once the response is
// complete (Content-Length), so the upstream connection is idle again by then and
// goes back on the stack; a client that closes earlier takes the upstream
// connection with it (a late response could not be told from the next one's).
import net from 'node:net';
import { parseArgs } from 'node:util';
import { KeptConnections } from './kept-connections.js';

const { values } = parseArgs({ options: { upstream: { type: 'string' }, listen: { type: 'string', default: '127.0.0.1:0' } } });
if (values.upstream === undefined) throw new Error('--upstream ADDR:PORT is required');
const [upHost, upPort] = values.upstream.split(':') as [string, string];
const [host, port] = values.listen.split(':') as [string, string];

const CLOSE = /\r\nconnection: *close\r\n/i;
const kept = new KeptConnections(upHost, Number(upPort));

const server = net.createServer({ noDelay: true }, (client) => {
  const up = kept.take();
  let answered = false;
  let first = true;
  const toClient = (chunk: Buffer): void => {
    answered = true;
    client.write(chunk);
  };
  const upClosed = (): void => {
    client.destroy();
  };
  up.on('data', toClient);
  up.once('close', upClosed);
  client.on('data', (chunk: Buffer) => {
    if (first) {
      first = false;
      const head = chunk.toString('latin1');
      if (CLOSE.test(head)) chunk = Buffer.from(head.replace(CLOSE, '\r\nconnection: keep-alive\r\n'), 'latin1');
    }
    up.write(chunk);
  });
  client.on('error', () => client.destroy());
  client.on('close', () => {
    up.off('data', toClient);
    up.off('close', upClosed);
    if (answered) kept.give(up);
    else up.destroy();
  });
});
server.listen(Number(port), host, 511, () => {
  process.stdout.write(`${JSON.stringify({ listening: (server.address() as net.AddressInfo).port })}\n`);
});
const stop = (): void => {
  server.close();
  kept.destroyAll();
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

// The client of the own-time measurement: one GET /own-time/N on a fresh
// loopback connection (the request fits one segment), read to the end. The
// caller's thread must be in the client namespace. Its own timing is only a
// sanity figure: the own time comes from the capture.
import net from 'node:net';

export interface ClientOutcome {
  id: number;
  status: number | undefined;
  /** Connect to last byte, ms (client's view; includes the network waits). */
  ms: number;
  error: string | undefined;
}

const TIMEOUT_MS = 10_000;

export function ownTimeRequest(port: number, id: number): Promise<ClientOutcome> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let data = '';
    let done = false;
    const finish = (error: string | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      resolve({ id, status: m ? Number(m[1]) : undefined, ms: performance.now() - t0, error });
    };
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.setNoDelay(true);
    sock.setEncoding('latin1');
    const timer = setTimeout(() => finish(`timed out after ${TIMEOUT_MS} ms`), TIMEOUT_MS);
    sock.on('data', (c: string) => {
      data += c;
      // The answers here are small with a Content-Length: complete once the body is in.
      const end = data.indexOf('\r\n\r\n');
      const len = /\r\ncontent-length: *(\d+)/i.exec(data);
      if (end >= 0 && len && data.length >= end + 4 + Number(len[1])) finish(undefined);
    });
    sock.on('end', () => finish(undefined));
    sock.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
    sock.write(`GET /own-time/${id} HTTP/1.1\r\nHost: own-time\r\nConnection: close\r\n\r\n`);
  });
}

// The pause client: sequential requests, one connection each, with a pause before
// each, against a server on this host, and that server's on-CPU time per request.
// It shows the host's idle penalty on a real server (docs/own-time.md, *The host's
// idle penalty*): the same requests with and without pauses.
//   node dist/bench/own-time/pause-client.js --port N --pid PID [--requests 200] [--pause-ms 40]
// PID is the server process (its /proc/PID/schedstat is read before and after).
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { quantile } from '../../src/util/stats.js';
import { intFlag } from '../int-flag.js';

const { values } = parseArgs({
  options: { port: { type: 'string' }, pid: { type: 'string' }, requests: { type: 'string', default: '200' }, 'pause-ms': { type: 'string', default: '40' } },
});
const usage = (m: string): Error => new Error(`pause-client: ${m}`);
if (values.port === undefined || values.pid === undefined) throw usage('--port and --pid are required');
const port = intFlag('--port', values.port, 1, 65_535, usage);
const pid = intFlag('--pid', values.pid, 1, 2 ** 22, usage);
const requests = intFlag('--requests', values.requests, 1, 100_000, usage);
const pauseMs = intFlag('--pause-ms', values['pause-ms'], 0, 60_000, usage);

/** ns on a CPU so far (the first field of schedstat). */
const onCpuNs = (): number => Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);

function request(id: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const s = net.connect(port, '127.0.0.1', () => s.write(`GET /pause/${id} HTTP/1.1\r\nhost: pause\r\nconnection: close\r\n\r\n`));
    s.resume();
    s.on('end', () => {
      resolve(Number(process.hrtime.bigint() - t0) / 1e6);
      s.destroy();
    });
    s.on('error', reject);
  });
}

for (let i = 0; i < 20; i++) await request(i);
const ms: number[] = [];
const cpu0 = onCpuNs();
for (let i = 0; i < requests; i++) {
  if (pauseMs > 0) await sleep(pauseMs);
  ms.push(await request(i));
}
const cpuUs = (onCpuNs() - cpu0) / requests / 1e3;
const q = (p: number): string => quantile(ms, p).toFixed(3);
process.stdout.write(`pause ${pauseMs} ms, ${requests} requests: client p50 ${q(0.5)} ms, p90 ${q(0.9)} ms; server on-CPU ${cpuUs.toFixed(0)} µs per request\n`);

// The server's view of a handed-out entry, read from its own tcp_info (`ss
// -tin` in the server namespace): Linux copies the SYN-ACK retransmits of the
// request socket into the child's total_retrans, and starts the connection
// with cwnd 1 instead of 10 when that is above 1 (tcp_init_transfer). After
// the pool sat idle well past the server's second retransmit (3 s), every
// entry the default pool hands out must show total_retrans ≤ 1 and a window of
// 10 or more. On the old code (entries kept to ~45 s, oldest first) the
// entries are 8 s old: retrans 0/3, cwnd 1 (2 once the response is acknowledged).
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, waitUntil } from '../../bench/pool/wait-until.js';
import type { PoolEvents } from '../../src/pool/pool-events.js';
import { startPoolBed, type PoolBed } from '../helpers/pool-bed.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';

const ONE_WAY_MS = 20;
const RTT_MS = 2 * ONE_WAY_MS;
const SIZE = 4;

let bed: PoolBed | undefined;
const hits: PoolEvents['hit'][0][] = [];

beforeAll(async () => {
  assertIntegrationPrerequisites(['ss']);
  bed = await startPoolBed({ oneWayDelayMs: ONE_WAY_MS, prefix: 'spfwin', pool: { sizing: 'fixed', targetSize: SIZE } });
  bed.pool.on('hit', (e) => hits.push(e));
}, 60_000);

afterAll(async () => {
  await bed?.close();
});

/** The server side of the connection from our local `port`: its cwnd and total retransmits. */
async function serverTcpInfo(b: PoolBed, port: number): Promise<{ cwnd: number; totalRetrans: number; line: string }> {
  const { stdout } = await b.topo.exec('server', 'ss', ['-Htin', 'state', 'established', `( sport = :${b.target.port} and dport = :${port} )`]);
  const line = stdout.replace(/\s+/g, ' ').trim();
  const cwnd = /\bcwnd:(\d+)/.exec(line);
  if (cwnd === null) throw new Error(`no server socket for port ${port}: '${line}'`);
  // ss prints retrans:<now>/<total> only when either is non-zero.
  const retrans = /\bretrans:\d+\/(\d+)/.exec(line);
  return { cwnd: Number(cwnd[1]), totalRetrans: retrans === null ? 0 : Number(retrans[1]), line };
}

/** A keep-alive GET on the handed-off socket; resolves at the first response bytes, the connection left open. */
function firstBytes(socket: Socket, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no response within 5 s')), 5_000);
    socket.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('error', reject);
    socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  });
}

describe(`entries handed out after an idle pool, ${RTT_MS} ms RTT`, () => {
  it('the server starts each with total_retrans ≤ 1 and its full initial window', async () => {
    const b = bed!;
    b.pool.start();
    await waitUntil('pool filled', () => b.pool.snapshot()[0]!.ready === SIZE, 5_000);
    await sleep(8_000);
    // Entries were replaced before their second retransmit, not kept.
    const idle = b.pool.snapshot()[0]!;
    expect(idle.synsSent).toBeGreaterThan(2 * SIZE);
    expect(idle.evicted.refreshed).toBeGreaterThan(SIZE);

    const seen: string[] = [];
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        if (i > 0) await sleep(1_300); // another phase of the refresh cycle
        const socket = b.pool.acquire(b.target);
        expect(socket).toBeDefined();
        sockets.push(socket!);
        await firstBytes(socket!, b.target.address);
        const info = await serverTcpInfo(b, socket!.localPort!);
        seen.push(`hit ${JSON.stringify(hits.at(-1))}: ${info.line}`);
        expect(info.totalRetrans, seen.join('\n')).toBeLessThanOrEqual(1);
        expect(info.cwnd, seen.join('\n')).toBeGreaterThanOrEqual(10);
      }
    } finally {
      for (const s of sockets) s.destroy();
    }
    console.log(seen.join('\n'));
    expect(hits.every((h) => h.fullWindow && h.synAcks <= 2 && h.ageMs < 3_000)).toBe(true);
  }, 40_000);
});

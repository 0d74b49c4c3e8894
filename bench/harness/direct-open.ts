// The direct-open contender: the client itself, over keep-alive connections it
// opened before the burst (or the run), to a keep-alive server of the same
// kind. Each request is one round trip plus what the client, the delay line and
// the server cost: the floor under any proxy's one-round-trip path, measured in
// the same run as the proxies it bounds.
import http from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Contender } from './contender.js';
import { timedGet } from './timed-request.js';
import type { RunningUpstream } from './upstream-set.js';

/** Bounded wait (1 ms steps) for prepared connections to come back to the agent's free list. */
const FREE_WAIT_STEPS = 100;

/** Connections direct-open keeps for a Poisson stream at `ratePerSec`: enough for its overlaps, each used often enough to stay open. */
export function openConnectionsForRate(ratePerSec: number): number {
  return Math.min(16, Math.max(2, Math.ceil(ratePerSec)));
}

/** Sockets the agent holds free (open, idle) for any origin. */
function freeSockets(agent: http.Agent): number {
  return Object.values(agent.freeSockets).reduce((n, list) => n + (list?.length ?? 0), 0);
}

export function directOpenContender(name: Contender['name'], upstream: RunningUpstream, path: string): Contender {
  // fifo: every open connection takes its turn, so none sits idle past the server's keep-alive timeout.
  const agent = new http.Agent({ keepAlive: true, scheduling: 'fifo' });
  let preparing = false;
  let opened = 0;
  const create = (agent as unknown as { createConnection: (...a: unknown[]) => Socket }).createConnection.bind(agent);
  (agent as unknown as { createConnection: (...a: unknown[]) => Socket }).createConnection = (...args: unknown[]) => {
    // Connections opened by prepare() are the point; one a measured request had to open is a handshake it paid.
    if (!preparing) opened++;
    return create(...args);
  };
  const target = { host: upstream.host, port: upstream.port, path, agent };
  const get = async (): Promise<void> => {
    const outcome = await timedGet(target);
    if (!outcome.ok) throw new Error(`direct-open: opening connections: ${outcome.error}`);
  };
  return {
    name,
    kind: 'direct',
    target,
    proxy: undefined,
    poolSize: undefined,
    connectionsOpened: () => opened,
    async prepare(connections: number): Promise<void> {
      if (freeSockets(agent) >= connections) return;
      // As many requests at once as connections wanted: the free ones are reused, the rest opened.
      preparing = true;
      try {
        await Promise.all(Array.from({ length: connections }, get));
      } finally {
        preparing = false;
      }
      // A socket goes back to the free list a tick or so after its response's 'end'.
      for (let i = 0; i < FREE_WAIT_STEPS && freeSockets(agent) < connections; i++) await sleep(1);
    },
    close: async () => agent.destroy(),
  };
}

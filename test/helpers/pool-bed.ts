// The set-up the pool integration tests share: a topology across the delay line, a
// node:http upstream in the server namespace, and, in the client namespace, a
// Handshaker and a PoolManager for that upstream (not started).
import { createTopology, enterNamespace, type IpMode, type Topology } from '../../bench/topology/index.js';
import { startNodeUpstream, type UpstreamServer } from '../../bench/upstream/index.js';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import { Handshaker } from '../../src/handshake/handshaker.js';
import type { UpstreamPoolConfig } from '../../src/pool/pool-config.js';
import { PoolManager } from '../../src/pool/pool-manager.js';

export interface PoolBed {
  readonly topo: Topology;
  /** Replace it when a test restarts the upstream, so close() stops the live one. */
  node: UpstreamServer;
  readonly target: Endpoint;
  readonly hs: Handshaker;
  readonly pool: PoolManager;
  /** Pool, handshaker, namespace, upstream, topology: in that order. Idempotent enough for afterAll. */
  close(): Promise<void>;
}

export interface PoolBedOptions {
  oneWayDelayMs: number;
  /** Namespace prefix, unique per test file. */
  prefix: string;
  /** The pool's settings for the upstream (its target is filled in). */
  pool?: Omit<UpstreamPoolConfig, 'target'>;
  /** The topology's addresses (default 'v4'); with 'v6' the upstream and the pool's target are IPv6. */
  ip?: IpMode;
  /** Runs on the new topology before the upstream starts (e.g. server sysctls). */
  prepare?(topo: Topology): Promise<void>;
}

/** Builds the bed; whatever was made is torn down again if a step fails. */
export async function startPoolBed(o: PoolBedOptions): Promise<PoolBed> {
  let topo: Topology | undefined;
  let node: UpstreamServer | undefined;
  let leave: (() => void) | undefined;
  let hs: Handshaker | undefined;
  let pool: PoolManager | undefined;
  const bed = {
    close: async (): Promise<void> => {
      pool?.close();
      hs?.close();
      leave?.();
      leave = undefined;
      await bed.node?.stop();
      await topo?.destroy();
    },
  } as PoolBed & { node: UpstreamServer | undefined };
  try {
    topo = await createTopology({ oneWayDelayMs: o.oneWayDelayMs, link: 'vde', prefix: o.prefix, ip: o.ip ?? 'v4' });
    await o.prepare?.(topo);
    node = await startNodeUpstream(topo);
    bed.node = node;
    const target = { address: topo.serverAddr, port: node.port };
    leave = enterNamespace(topo.netnsPath('client'));
    hs = Handshaker.create({ targets: [target] });
    pool = new PoolManager({ driver: hs, upstreams: [{ ...o.pool, target }] });
    return Object.assign(bed, { topo, target, hs, pool });
  } catch (err) {
    await bed.close();
    throw err;
  }
}

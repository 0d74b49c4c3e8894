// The synpool CLI in a topology's client namespace, resolving an upstream name
// through a per-namespace hosts file (/etc/netns/NS/hosts, which `ip netns exec`
// mounts over /etc/hosts for the CLI), with the test thread in the client
// namespace too so it can read the CLI's /metrics.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { enterNamespace, type Topology } from '../../bench/topology/index.js';
import { spawnCli, type CliSynpool } from './proxy-process.js';

export interface HostsFileCli {
  readonly synpool: CliSynpool;
  /** Rewrites the hosts file in place (same inode: the CLI's mount sees the change). */
  writeHosts(addresses: readonly string[]): void;
  /** Leaves the client namespace, stops the CLI and removes /etc/netns/NS; idempotent. */
  stop(): Promise<void>;
}

export async function startHostsFileCli(topo: Topology, o: { name: string; addresses: readonly string[]; url: string; config: Record<string, unknown> }): Promise<HostsFileCli> {
  const dir = join('/etc/netns', topo.clientNs);
  mkdirSync(dir, { recursive: true });
  const writeHosts = (addresses: readonly string[]): void => {
    writeFileSync(join(dir, 'hosts'), `127.0.0.1 localhost\n${addresses.map((a) => `${a} ${o.name}`).join('\n')}\n`);
  };
  writeHosts(o.addresses);
  const configFile = join(topo.dir, `${o.name}.json`);
  writeFileSync(configFile, JSON.stringify(o.config));
  let synpool: CliSynpool;
  try {
    synpool = await spawnCli(topo, 'client', ['--config', configFile, '--upstream', o.url, '--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0']);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const leave = enterNamespace(topo.netnsPath('client'));
  let stopped = false;
  return {
    synpool,
    writeHosts,
    async stop() {
      if (stopped) return;
      stopped = true;
      leave();
      await synpool.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

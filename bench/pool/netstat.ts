// Kernel TCP counters of one namespace (/proc/net/netstat and /proc/net/snmp
// are per network namespace), as `TcpExtName` / `TcpName` → value, the names
// nstat uses.
import type { Side, Topology } from '../topology/topology.js';

export async function readTcpCounters(topo: Topology, side: Side): Promise<Map<string, number>> {
  const { stdout } = await topo.exec(side, 'cat', ['/proc/net/netstat', '/proc/net/snmp']);
  const out = new Map<string, number>();
  const lines = stdout.split('\n');
  // Each group is two lines: "Prefix: name name …" then "Prefix: value value …".
  for (let i = 0; i + 1 < lines.length; i++) {
    const head = lines[i]!.split(/\s+/);
    const vals = lines[i + 1]!.split(/\s+/);
    if (head[0] === undefined || head[0] !== vals[0] || !head[0].endsWith(':')) continue;
    const prefix = head[0].slice(0, -1);
    for (let k = 1; k < head.length && k < vals.length; k++) {
      if (head[k]) out.set(`${prefix}${head[k]}`, Number(vals[k]));
    }
    i++;
  }
  return out;
}

/** Entries in the SYN_RECV table of `side`, optionally only those on local port `port`. */
export async function synRecvCount(topo: Topology, side: Side, port?: number): Promise<number> {
  const args = ['-Htn', 'state', 'syn-recv', ...(port === undefined ? [] : [`sport = :${port}`])];
  const { stdout } = await topo.exec(side, 'ss', args);
  return stdout.split('\n').filter((l) => l.trim() !== '').length;
}

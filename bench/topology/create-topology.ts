// Builds a client and a server namespace joined by a link with the requested
// one-way delay, checks that it passes traffic, and measures its round trip.
import { spawnProbeListener, probeConnect } from './connect-probe.js';
import { stopChild, waitForJsonLine } from './child-output.js';
import { LiveTopology } from './live-topology.js';
import { netemSupported } from './netem-probe.js';
import { isOnPath, runCommand } from './run-command.js';
import { sweepStaleTopologies } from './sweep-stale-topologies.js';
import { TopologyError } from './topology-error.js';
import { allocateTopologyNames } from './topology-names.js';
import type { LinkKind, Side, Topology, TopologyOptions } from './topology.js';
import { buildVdeLink } from './vde-link.js';
import { buildVethLink } from './veth-link.js';

const LINK_CHOICES = ['auto', 'vde', 'netem', 'veth'] as const;
const IP_CHOICES = ['v4', 'dual', 'v6'] as const;
const VDE_TOOLS = ['vde_switch', 'wirefilter'] as const;
const MAX_ONE_WAY_DELAY_MS = 10_000;
/** The link must carry a TCP connect within this long after setup. */
const CONNECTIVITY_DEADLINE_MS = 5_000;
/** Connects timed at setup; the fastest is the reported round trip. */
const RTT_SAMPLES = 3;
const MTU = '1500';

export async function createTopology(opts: TopologyOptions): Promise<Topology> {
  const { oneWayDelayMs } = opts;
  const requested = opts.link ?? 'auto';
  if (!Number.isFinite(oneWayDelayMs) || oneWayDelayMs < 0 || oneWayDelayMs > MAX_ONE_WAY_DELAY_MS) {
    throw new TopologyError('TOPOLOGY_ERR_PREREQUISITE', `oneWayDelayMs must be within 0…${MAX_ONE_WAY_DELAY_MS} ms, got ${oneWayDelayMs}`);
  }
  if (!(LINK_CHOICES as readonly string[]).includes(requested)) {
    throw new TopologyError('TOPOLOGY_ERR_PREREQUISITE', `link must be one of ${LINK_CHOICES.join(', ')}, got ${String(requested)}`);
  }
  const ip = opts.ip ?? 'v4';
  if (!(IP_CHOICES as readonly string[]).includes(ip)) {
    throw new TopologyError('TOPOLOGY_ERR_PREREQUISITE', `ip must be one of ${IP_CHOICES.join(', ')}, got ${String(ip)}`);
  }
  if (requested === 'veth' && oneWayDelayMs > 0) {
    throw new TopologyError('TOPOLOGY_ERR_PREREQUISITE', `link 'veth' adds no delay; ask for 'auto', 'vde' or 'netem' to get ${oneWayDelayMs} ms`);
  }
  assertPrerequisites(requested === 'vde' ? VDE_TOOLS : []);

  sweepStaleTopologies();
  const topo = new LiveTopology(allocateTopologyNames(opts.prefix), oneWayDelayMs, ip);
  try {
    await topo.createNamespaces();
    const kind = await resolveLink(topo, requested);
    const ifName = (side: Side): string => (side === 'client' ? topo.names.clientIf : topo.names.serverIf);
    if (kind === 'vde') {
      topo.attachLink(
        await buildVdeLink({
          dir: topo.dir,
          oneWayDelayMs,
          ifName,
          spawnTracked: (side, cmd, args, group) => topo.spawnForLink(side, cmd, args, group),
          exec: (side, cmd, args) => topo.exec(side, cmd, args),
        }),
      );
    } else {
      topo.attachLink(
        await buildVethLink({
          clientNs: topo.clientNs,
          serverNs: topo.serverNs,
          oneWayDelayMs,
          netem: kind === 'netem',
          ifName,
          host: (cmd, args) => runCommand(cmd, args),
          exec: (side, cmd, args, runOpts) => topo.exec(side, cmd, args, runOpts),
        }),
      );
    }
    await configureAddresses(topo, ifName);
    topo.measuredRttMs = await measureRtt(topo);
    return topo;
  } catch (err) {
    await topo.destroy().catch(() => {});
    throw err;
  }
}

function assertPrerequisites(tools: readonly string[]): void {
  if (process.getuid?.() !== 0) {
    throw new TopologyError('TOPOLOGY_ERR_PREREQUISITE', 'building network namespaces needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN)');
  }
  const missing = ['ip', ...tools].filter((t) => !isOnPath(t));
  if (missing.length > 0) {
    throw new TopologyError('TOPOLOGY_ERR_PREREQUISITE', `missing on PATH: ${missing.join(', ')} (Debian: apt-get install iproute2 vde2)`);
  }
}

async function resolveLink(topo: LiveTopology, requested: NonNullable<TopologyOptions['link']>): Promise<LinkKind> {
  if (requested === 'vde' || requested === 'veth') return requested;
  // The fresh client namespace is the scratch namespace for the probe.
  const netem = await netemSupported((cmd, args) => topo.exec('client', cmd, args));
  if (requested === 'netem') {
    if (!netem) throw new TopologyError('TOPOLOGY_ERR_PREREQUISITE', "link 'netem' asked for, but this kernel has no sch_netem (tc qdisc add … netem fails); use 'vde'");
    return 'netem';
  }
  if (netem) return 'netem';
  assertPrerequisites(VDE_TOOLS);
  return 'vde';
}

async function configureAddresses(topo: LiveTopology, ifName: (side: Side) => string): Promise<void> {
  const n = topo.names;
  const v4 = topo.ipMode !== 'v6';
  const v6 = topo.ipMode !== 'v4';
  const addr4 = { client: n.clientAddr, server: n.serverAddr };
  const addr6 = { client: n.clientAddr6, server: n.serverAddr6 };
  const mac: Partial<Record<Side, string>> = {};
  for (const side of ['client', 'server'] as const) {
    if (v6) await enableIpv6(topo, side, ifName(side));
    await topo.ip(side, ['link', 'set', 'dev', ifName(side), 'mtu', MTU, 'up']);
    if (v4) await topo.ip(side, ['addr', 'add', `${addr4[side]}/${n.prefixLength}`, 'dev', ifName(side)]);
    // nodad: usable at once, not "tentative" for a second of duplicate detection (nothing else is on this link).
    if (v6) await topo.ip(side, ['-6', 'addr', 'add', `${addr6[side]}/${n.prefixLength6}`, 'dev', ifName(side), 'nodad']);
    const { stdout } = await topo.ip(side, ['-j', 'link', 'show', 'dev', ifName(side)]);
    mac[side] = (JSON.parse(stdout) as Array<{ address?: string }>)[0]?.address;
  }
  // Permanent neighbour entries: no ARP / neighbour-discovery round trip on
  // the first connect, and none when an entry would go stale in the middle of
  // a measurement.
  for (const [side, peer] of [['client', 'server'], ['server', 'client']] as const) {
    const lladdr = mac[peer];
    if (!lladdr) continue;
    if (v4) await topo.ip(side, ['neigh', 'replace', addr4[peer], 'lladdr', lladdr, 'dev', ifName(side), 'nud', 'permanent']);
    if (v6) await topo.ip(side, ['-6', 'neigh', 'replace', addr6[peer], 'lladdr', lladdr, 'dev', ifName(side), 'nud', 'permanent']);
  }
}

/** A host may boot with IPv6 off (disable_ipv6=1), and new namespaces may copy that: turn it on explicitly. */
async function enableIpv6(topo: LiveTopology, side: Side, ifName: string): Promise<void> {
  const paths = ['all', 'default', 'lo', ifName].map((c) => `/proc/sys/net/ipv6/conf/${c}/disable_ipv6`);
  await topo.exec(side, 'sh', ['-c', paths.map((p) => `echo 0 > ${p}`).join(' && ')]);
}

async function measureRtt(topo: LiveTopology): Promise<number> {
  const listener = spawnProbeListener(topo, 'server', topo.serverAddr);
  try {
    const { listening } = await waitForJsonLine<{ listening: number }>(listener, CONNECTIVITY_DEADLINE_MS, 'probe listener in the server namespace');
    const samples = await probeConnect(topo, topo.serverAddr, listening, { samples: RTT_SAMPLES, deadlineMs: CONNECTIVITY_DEADLINE_MS });
    return Math.min(...samples);
  } catch (err) {
    throw new TopologyError(
      'TOPOLOGY_ERR_NO_TRAFFIC',
      `topology ${topo.name}: the ${topo.link} link ${topo.clientAddr} → ${topo.serverAddr} passes no traffic: ${(err as Error).message}`,
      { cause: err },
    );
  } finally {
    await stopChild(listener, 1_000);
  }
}

// Names and addresses for one topology, unique across the processes of this
// machine: the pid and a per-process counter go into every name.
import { TopologyError } from './topology-error.js';

export interface TopologyNames {
  /** `<prefix>-<pid>-<counter>` */
  name: string;
  clientNs: string;
  serverNs: string;
  /** Interface names, ≤ 15 characters (IFNAMSIZ - 1). */
  clientIf: string;
  serverIf: string;
  /** 10.a.b.1 and 10.a.b.2 of a /24 picked from pid and counter. */
  clientAddr: string;
  serverAddr: string;
  prefixLength: 24;
  /** fd00:a:b::1 and ::2 of a /64 (ULA), same a and b as the IPv4 subnet. */
  clientAddr6: string;
  serverAddr6: string;
  prefixLength6: 64;
}

export const DEFAULT_PREFIX = 'synpool';
const PREFIX_PATTERN = /^[a-z][a-z0-9]{0,15}$/;
const IFNAMSIZ = 16;
/** 10.1.0.0 – 10.254.255.0: 65 024 /24s; 10.0.x and 10.255.x are left alone. */
const SUBNET_COUNT = 254 * 256;

let counter = 0;

export function allocateTopologyNames(prefix: string = DEFAULT_PREFIX): TopologyNames {
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new TopologyError('TOPOLOGY_ERR_PREREQUISITE', `prefix "${prefix}" must match ${PREFIX_PATTERN} (it becomes part of namespace and socket paths)`);
  }
  const n = counter++;
  const pid = process.pid;
  const name = `${prefix}-${pid}-${n}`;
  // Interface names only need to be unique inside their namespace, but a unique
  // name makes a leftover easy to attribute: "t" + pid and counter in base 36.
  const tag = `t${pid.toString(36)}x${n.toString(36)}`;
  const clientIf = `${tag}c`;
  const serverIf = `${tag}s`;
  if (clientIf.length >= IFNAMSIZ) {
    throw new TopologyError('TOPOLOGY_ERR_PREREQUISITE', `interface name ${clientIf} exceeds ${IFNAMSIZ - 1} characters`);
  }
  // Spread consecutive pids over distant subnets; a collision would be harmless
  // anyway (each pair of namespaces is its own L2 segment) but confusing in a capture.
  const slot = (pid * 61 + n * 7919) % SUBNET_COUNT;
  const a = 1 + Math.floor(slot / 256);
  const b = slot % 256;
  return {
    name,
    clientNs: `${name}-client`,
    serverNs: `${name}-server`,
    clientIf,
    serverIf,
    clientAddr: `10.${a}.${b}.1`,
    serverAddr: `10.${a}.${b}.2`,
    prefixLength: 24,
    ...ulaPair(a, b),
    prefixLength6: 64,
  };
}

/**
 * fd00:a:b::1 and ::2, spelled as RFC 5952 does (b = 0 joins the compressed
 * run: fd00:a::1), so they compare equal to what the kernel and synpool report.
 */
export function ulaPair(a: number, b: number): { clientAddr6: string; serverAddr6: string } {
  const net = b === 0 ? `fd00:${a.toString(16)}:` : `fd00:${a.toString(16)}:${b.toString(16)}:`;
  return { clientAddr6: `${net}:1`, serverAddr6: `${net}:2` };
}

import { readFileSync } from 'node:fs';
import { AF_INET, SOCK_CLOEXEC, SOCK_STREAM, SOL_TCP, TCP_REPAIR, TCP_REPAIR_ON } from '../../native/constants.js';
import { closeFd, openSocket, setIntOption } from '../../native/socket-ops.js';
import { SyscallError } from '../errors.js';

const CAP_NET_ADMIN = 12;
const CAP_NET_RAW = 13;

export interface CapabilityReport {
  netRaw: boolean;
  netAdmin: boolean;
  /** The kernel accepted TCP_REPAIR on a scratch socket. */
  tcpRepair: boolean;
  /** What is missing, as a user would grant it; empty when acceleration can run. */
  missing: string[];
}

/** Effective capability bits of this process, from /proc/self/status. */
export function effectiveCapabilities(statusText = readFileSync('/proc/self/status', 'utf8')): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(statusText);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

function probeTcpRepair(): boolean {
  let fd = -1;
  try {
    fd = openSocket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0, 'socket(repair probe)');
    setIntOption(fd, SOL_TCP, TCP_REPAIR, TCP_REPAIR_ON, 'setsockopt(TCP_REPAIR)');
    return true;
  } catch (err) {
    if (err instanceof SyscallError) return false;
    throw err;
  } finally {
    if (fd >= 0) closeFd(fd);
  }
}

/** What the accelerated path needs, checked without sending anything. */
export function checkCapabilities(): CapabilityReport {
  const caps = effectiveCapabilities();
  const netRaw = (caps >> BigInt(CAP_NET_RAW)) & 1n ? true : false;
  const netAdmin = (caps >> BigInt(CAP_NET_ADMIN)) & 1n ? true : false;
  const tcpRepair = probeTcpRepair();
  const missing: string[] = [];
  if (!netRaw) missing.push('CAP_NET_RAW (raw SYN socket)');
  if (!netAdmin) missing.push('CAP_NET_ADMIN (TCP_REPAIR)');
  else if (!tcpRepair) missing.push('TCP_REPAIR (the kernel refused it)');
  return { netRaw, netAdmin, tcpRepair, missing };
}

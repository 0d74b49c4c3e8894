import { AF_INET, SOCK_CLOEXEC, SOCK_DGRAM } from '../../native/constants.js';
import { closeFd, connectIn, getIntOption, openSocket, sockName } from '../../native/socket-ops.js';
import type { Endpoint } from './endpoint.js';

const IPPROTO_IP = 0;
const IP_MTU = 14;
const IPV4_TCP_HEADERS = 40;

/** How our host reaches a target: the source address the kernel picks and the path MTU. */
export interface LocalRoute {
  readonly sourceAddress: string;
  readonly mtu: number;
  /** The MSS to offer: MTU less the IPv4 and TCP headers. */
  readonly mss: number;
}

/**
 * Asks the routing table, without sending anything: connect() on a UDP socket
 * only selects a route and a source address.
 */
export function resolveLocalRoute(target: Endpoint): LocalRoute {
  const fd = openSocket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0, 'socket(route lookup)');
  try {
    connectIn(fd, target.address, target.port, 'connect(route lookup)');
    const sourceAddress = sockName(fd).address;
    const mtu = getIntOption(fd, IPPROTO_IP, IP_MTU, 'getsockopt(IP_MTU)');
    return { sourceAddress, mtu, mss: Math.min(65495, mtu - IPV4_TCP_HEADERS) };
  } finally {
    closeFd(fd);
  }
}

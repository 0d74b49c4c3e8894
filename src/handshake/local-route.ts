import { AF_INET, AF_INET6, IP_MTU, IPPROTO_IP, IPPROTO_IPV6, IPV6_MTU, SOCK_CLOEXEC, SOCK_DGRAM } from '../../native/constants.js';
import { closeFd, connectIp, getIntOption, openSocket, sockNameOf } from '../../native/socket-ops.js';
import { canonicalIpv6 } from '../packet/ipv6-address.js';
import { endpointFamily, type Endpoint } from './endpoint.js';

/** The IP header (20 or 40 bytes) plus a TCP header without options. */
const IPV4_TCP_HEADERS = 40;
const IPV6_TCP_HEADERS = 60;

/** How our host reaches a target: the source address the kernel picks and the path MTU. */
export interface LocalRoute {
  /** Canonical, as Endpoint addresses are: entries are matched by it. */
  readonly sourceAddress: string;
  readonly mtu: number;
  /** The MSS to offer: MTU less the IP and TCP headers. */
  readonly mss: number;
}

/**
 * Asks the routing table, without sending anything: connect() on a UDP socket
 * only selects a route and a source address.
 */
export function resolveLocalRoute(target: Endpoint): LocalRoute {
  const v6 = endpointFamily(target) === 6;
  const family = v6 ? AF_INET6 : AF_INET;
  const fd = openSocket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0, 'socket(route lookup)');
  try {
    connectIp(fd, target.address, target.port, 'connect(route lookup)');
    const local = sockNameOf(fd, family).address;
    const mtu = v6
      ? getIntOption(fd, IPPROTO_IPV6, IPV6_MTU, 'getsockopt(IPV6_MTU)')
      : getIntOption(fd, IPPROTO_IP, IP_MTU, 'getsockopt(IP_MTU)');
    return { sourceAddress: v6 ? canonicalIpv6(local) : local, mtu, mss: Math.min(65495, mtu - (v6 ? IPV6_TCP_HEADERS : IPV4_TCP_HEADERS)) };
  } finally {
    closeFd(fd);
  }
}

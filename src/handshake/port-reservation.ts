import { SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_STREAM } from '../../native/constants.js';
import { bindIp, closeFd, familyOf, openSocket, sockNameOf } from '../../native/socket-ops.js';
import { check, getLibc } from '../../native/libc.js';
import { attachFilter } from './socket-filters.js';

/**
 * A local port held by a listening socket whose filter drops every packet:
 * the kernel will not hand the port to anyone else, and the server's SYN-ACK
 * to it is dropped before TCP could answer it with a RST.
 */
export class PortReservation {
  readonly address: string;
  readonly port: number;
  #fd: number;

  private constructor(fd: number, address: string, port: number) {
    this.#fd = fd;
    this.address = address;
    this.port = port;
  }

  /** Reserves a kernel-chosen port on `address` (IPv4 or IPv6: the socket's family follows it). */
  static reserve(address: string): PortReservation {
    const family = familyOf(address);
    const fd = openSocket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, 'socket(reservation)');
    try {
      // Filter first, so no segment can slip in between listen() and the attach.
      attachFilter(fd, 'dropAll', 'setsockopt(reservation filter)');
      bindIp(fd, address, 0, 'bind(reservation)');
      check(getLibc().listen(fd, 1), 'listen(reservation)');
      return new PortReservation(fd, address, sockNameOf(fd, family).port);
    } catch (err) {
      closeFd(fd);
      throw err;
    }
  }

  get held(): boolean {
    return this.#fd >= 0;
  }

  /** Frees the port. Idempotent. */
  release(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    closeFd(fd);
  }
}

// The front and metrics listeners, opened by the supervisor before it gives up
// root (a port below 1024 needs it) and inherited by the workers as fds. The
// front port is one SO_REUSEPORT socket per worker slot: the kernel spreads new
// connections over the workers (one shared accept queue would hand most of them to
// whichever worker is least busy at the instant, which is not the same thing). The
// supervisor keeps its copies, so a restarted worker takes its slot's socket back
// and the connections queued on it meanwhile are accepted, not refused.
import { lookup } from 'node:dns/promises';
import { SOCK_CLOEXEC, SOCK_STREAM, SOL_SOCKET, SO_REUSEADDR } from '../../native/constants.js';
import { bindIp, closeFd, familyOf, openSocket, setIntOption, sockNameOf } from '../../native/socket-ops.js';
import { check, getLibc } from '../../native/libc.js';
import { parseHostPort } from '../config/schema.js';
import { ListenError, SyscallError } from '../errors.js';

const SO_REUSEPORT = 15;
/** Node's default backlog for server.listen(). */
const BACKLOG = 511;

export interface ListenSockets {
  readonly fds: readonly number[];
  readonly host: string;
  readonly address: string;
  readonly port: number;
  close(): void;
}

/**
 * `count` listening sockets on `hostPort` (the config key `field`), all bound to the
 * same port (the first one's, when the port is 0); `reusePort` puts them in one
 * SO_REUSEPORT group. A failure is a ListenError naming the field, as serve()'s is.
 */
export async function openListeners(field: string, hostPort: string, count: number, reusePort: boolean): Promise<ListenSockets> {
  const { host, port } = parseHostPort(field, hostPort);
  let address: string;
  try {
    address = (await lookup(host)).address;
  } catch (err) {
    throw new ListenError(field, host, port, err);
  }
  const fds: number[] = [];
  const close = (): void => {
    for (const fd of fds.splice(0)) {
      try {
        closeFd(fd);
      } catch {
        // already closed
      }
    }
  };
  let bound = port;
  try {
    // Two synpools started as the same user would both join one SO_REUSEPORT group and
    // share the port without a word; a plain bind first finds a port already taken.
    if (reusePort && port !== 0) {
      const probe = openSocket(familyOf(address), SOCK_STREAM | SOCK_CLOEXEC, 0, `socket(${field})`);
      try {
        setIntOption(probe, SOL_SOCKET, SO_REUSEADDR, 1, 'setsockopt(SO_REUSEADDR)');
        bindIp(probe, address, port, `bind(${field})`);
      } finally {
        closeFd(probe);
      }
    }
    for (let i = 0; i < count; i++) {
      const family = familyOf(address);
      const fd = openSocket(family, SOCK_STREAM | SOCK_CLOEXEC, 0, `socket(${field})`);
      fds.push(fd);
      setIntOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, 'setsockopt(SO_REUSEADDR)');
      if (reusePort) setIntOption(fd, SOL_SOCKET, SO_REUSEPORT, 1, 'setsockopt(SO_REUSEPORT)');
      bindIp(fd, address, bound, `bind(${field})`);
      if (i === 0) bound = sockNameOf(fd, family).port;
      check(getLibc().listen(fd, BACKLOG), `listen(${field})`);
    }
  } catch (err) {
    close();
    // ListenError reads the errno code where Node's errors keep it.
    throw new ListenError(field, host, port, err instanceof SyscallError ? Object.assign(new Error(err.message), { code: err.errnoCode }) : err);
  }
  return { fds, host, address, port: bound, close };
}

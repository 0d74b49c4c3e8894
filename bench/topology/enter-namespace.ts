// Moves the calling thread into another network namespace. Sockets created on
// this thread afterwards live there. Node creates a connecting socket's fd on a
// later tick (net.connect) or after a lookup (server.listen with a host), so stay
// inside until 'connect' / 'listening' has fired before switching back.
import { CLONE_NEWNET, O_CLOEXEC, O_RDONLY } from '../../native/constants.js';
import { check } from '../../native/libc.js';
import { getNamespaceLibc } from './namespace-libc.js';

const CURRENT_NETNS = '/proc/thread-self/ns/net';

/**
 * setns() into the namespace at `path` (e.g. topology.netnsPath('client')).
 * Returns a function that switches back to the namespace the thread was in and
 * closes the descriptors; calling it again does nothing.
 */
export function enterNamespace(path: string): () => void {
  const libc = getNamespaceLibc();
  const original = check(libc.open(CURRENT_NETNS, O_RDONLY | O_CLOEXEC), `open(${CURRENT_NETNS})`);
  let target = -1;
  try {
    target = check(libc.open(path, O_RDONLY | O_CLOEXEC), `open(${path})`);
    check(libc.setns(target, CLONE_NEWNET), `setns(${path}, CLONE_NEWNET)`);
  } catch (err) {
    if (target >= 0) libc.close(target);
    libc.close(original);
    throw err;
  }
  libc.close(target);
  let restored = false;
  return () => {
    if (restored) return;
    restored = true;
    try {
      check(libc.setns(original, CLONE_NEWNET), `setns(${CURRENT_NETNS} of before, CLONE_NEWNET)`);
    } finally {
      libc.close(original);
    }
  };
}

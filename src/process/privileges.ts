// Who each process is. The supervisor starts with whatever synpool was given
// (root, or a service user with CAP_NET_RAW and CAP_NET_ADMIN as ambient
// capabilities under systemd), binds the listeners, then becomes:
//   the configured user (when root), no capability in effect, CAP_NET_RAW and
//   CAP_NET_ADMIN kept only as permitted, the bounding set cut to those two,
//   no_new_privs set.
// It keeps the two as permitted for one reason: to start the keeper again if it
// dies. It parses no request, no response and no client input. Workers are forked
// with nothing (CapPrm 0); the keeper with exactly the two, raised as ambient
// capabilities around its fork only.
import { ConfigError, SyscallError } from '../errors.js';
import {
  becomeUser, CAP_NET_ADMIN, CAP_NET_RAW, CAP_SETGID, CAP_SETUID, capMask, clearAmbient, getCapabilities, limitBoundingSet, lookupUser, raiseAmbient,
  setCapabilities, setKeepCaps, setNoNewPrivs, type PasswdEntry,
} from '../../native/privileges.js';

/** The only capabilities any synpool process keeps after start-up: the keeper's. */
export const KEEPER_CAPS = [CAP_NET_RAW, CAP_NET_ADMIN] as const;
const KEEPER_MASK = capMask(KEEPER_CAPS);

export interface DroppedPrivileges {
  /** The user the processes run as now (name, or the uid when it has none). */
  readonly user: string;
  readonly uid: number;
  readonly gid: number;
  /** The subset of KEEPER_CAPS this process still has as permitted: what the keeper can get. */
  readonly keeperCaps: readonly number[];
}

/** Whether this process may change its uid and groups (root in a container may not). */
export function canChangeUser(): boolean {
  const { effective } = getCapabilities();
  return ((effective >> BigInt(CAP_SETUID)) & 1n) === 1n && ((effective >> BigInt(CAP_SETGID)) & 1n) === 1n;
}

/** The configured user, checked before anything is bound: unknown or root is a config error. */
export function serviceUser(name: string): PasswdEntry {
  const user = lookupUser(name);
  if (user === undefined) throw new ConfigError('user', `no user "${name}" on this system (getpwnam); create it or set user to an existing unprivileged one`);
  if (user.uid === 0) throw new ConfigError('user', `"${name}" is root (uid 0): the workers parse untrusted requests and must not run as root; name an unprivileged user`);
  return user;
}

/**
 * Gives up everything but the keeper's two capabilities (as permitted, not in effect).
 * As root: the bounding set goes first (that needs CAP_SETPCAP), then the user, keeping
 * the permitted set across setuid with keepcaps. Call on the main thread, once.
 */
export function dropPrivileges(user: PasswdEntry | undefined): DroppedPrivileges {
  const kept = getCapabilities().permitted & KEEPER_MASK;
  if (process.getuid?.() === 0) {
    try {
      limitBoundingSet(KEEPER_CAPS);
    } catch (err) {
      // A wrapper already took CAP_SETPCAP: the bounding set stays as it was given, no_new_privs still holds.
      if (!(err instanceof SyscallError && err.errnoCode === 'EPERM')) throw err;
    }
  }
  if (process.getuid?.() === 0 && user !== undefined) {
    setKeepCaps(true);
    becomeUser(user);
    setKeepCaps(false);
  }
  setCapabilities({ effective: 0n, permitted: kept, inheritable: 0n });
  // A service manager's ambient set would otherwise pass to every child.
  clearAmbient();
  setNoNewPrivs();
  return {
    user: user?.name ?? (process.getuid?.() === 0 ? 'root' : String(process.getuid?.() ?? '')),
    uid: process.getuid?.() ?? -1,
    gid: process.getgid?.() ?? -1,
    keeperCaps: KEEPER_CAPS.filter((c) => (kept >> BigInt(c)) & 1n),
  };
}

/**
 * Runs `fork` (synchronous: libuv's spawn returns once the child has exec'd) with
 * `caps` raised as ambient capabilities, so that child, and only it, starts with them.
 * no_new_privs does not stop this: the child gains nothing its parent did not permit.
 */
export function withAmbientCaps<T>(caps: readonly number[], fork: () => T): T {
  if (caps.length === 0) return fork();
  const mask = capMask(caps);
  setCapabilities({ effective: 0n, permitted: mask, inheritable: mask });
  try {
    raiseAmbient(caps);
    return fork();
  } finally {
    clearAmbient();
    setCapabilities({ effective: 0n, permitted: mask, inheritable: 0n });
  }
}

/**
 * The keeper, once started: its two capabilities stay in effect and permitted; the
 * inheritable and ambient copies that brought them across exec go, so nothing it
 * could ever exec would inherit them.
 */
export function settleKeeperCapabilities(): void {
  const { permitted } = getCapabilities();
  setCapabilities({ effective: permitted & KEEPER_MASK, permitted: permitted & KEEPER_MASK, inheritable: 0n });
  clearAmbient();
}

/**
 * A worker, first thing: whatever it was started with goes. Started as uid 0 (a
 * container without CAP_SETUID, or code the service user cannot read), exec gives
 * root the bounding set (CAP_NET_RAW, CAP_NET_ADMIN) back; dropping them is always
 * allowed, and no_new_privs keeps any later exec from regaining them. Threads the
 * runtime creates from now on (libuv's pool) inherit the empty sets.
 */
export function dropAllCapabilities(): void {
  const now = getCapabilities();
  if (now.effective === 0n && now.permitted === 0n && now.inheritable === 0n) return;
  setCapabilities({ effective: 0n, permitted: 0n, inheritable: 0n });
  clearAmbient();
}

// The libc calls that change who a process is: user, groups, capability sets,
// no_new_privs. Their own koffi table (loaded on first use), apart from the
// socket calls: only the supervisor and the worker's start-up check use them.
//
// Two kernel facts shape the wrappers. Capability sets, securebits and the
// bounding set are per thread, and Node runs several threads; glibc's setuid,
// setgid and initgroups apply to every thread (its setxid broadcast), capset and
// prctl only to the calling one. So these are called on the main thread, which is
// the one that forks children (libuv's spawn): what a child inherits is the main
// thread's. The other threads lose every capability at setuid (no keepcaps on them).
import { readFileSync } from 'node:fs';
import { check, koffiModule } from './libc.js';

export const CAP_NET_ADMIN = 12;
export const CAP_NET_RAW = 13;
export const CAP_SETGID = 6;
export const CAP_SETUID = 7;

const PR_SET_KEEPCAPS = 8;
const PR_CAPBSET_READ = 23;
const PR_CAPBSET_DROP = 24;
const PR_SET_NO_NEW_PRIVS = 38;
const PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_RAISE = 2;
const PR_CAP_AMBIENT_CLEAR_ALL = 4;
/** _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set. */
const CAPABILITY_VERSION_3 = 0x20080522;

interface PrivLibc {
  getpwnam(name: string): unknown;
  initgroups(user: string, group: number): number;
  setgid(gid: number): number;
  setuid(uid: number): number;
  prctl(option: number, a2: number, a3: number, a4: number, a5: number): number;
  capget(header: Buffer, data: Buffer): number;
  capset(header: Buffer, data: Buffer): number;
}

let lib: PrivLibc | undefined;
let passwdType: unknown;

function privLibc(): PrivLibc {
  if (lib) return lib;
  const k = koffiModule();
  const c = k.load('libc.so.6');
  passwdType = k.struct('synpool_passwd', {
    pw_name: 'const char *',
    pw_passwd: 'const char *',
    pw_uid: 'uint32_t',
    pw_gid: 'uint32_t',
    pw_gecos: 'const char *',
    pw_dir: 'const char *',
    pw_shell: 'const char *',
  });
  lib = {
    getpwnam: c.func('void *getpwnam(const char *name)'),
    initgroups: c.func('int initgroups(const char *user, uint32_t group)'),
    setgid: c.func('int setgid(uint32_t gid)'),
    setuid: c.func('int setuid(uint32_t uid)'),
    prctl: c.func('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)'),
    capget: c.func('int capget(void *header, void *data)'),
    capset: c.func('int capset(void *header, void *data)'),
  } as PrivLibc;
  return lib;
}

export interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/** The user's entry through NSS (getpwnam), or undefined when there is none. */
export function lookupUser(name: string): PasswdEntry | undefined {
  const c = privLibc();
  const ptr = c.getpwnam(name);
  if (ptr === null) return undefined;
  const pw = koffiModule().decode(ptr, passwdType as never) as { pw_uid: number; pw_gid: number };
  return { name, uid: pw.pw_uid, gid: pw.pw_gid };
}

/** The capability sets of the calling thread. */
export interface CapabilitySets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

const header = Buffer.alloc(8);
const data = Buffer.alloc(24);

export function getCapabilities(): CapabilitySets {
  header.writeUInt32LE(CAPABILITY_VERSION_3, 0);
  header.writeInt32LE(0, 4);
  check(privLibc().capget(header, data), 'capget');
  const word = (set: number): bigint => BigInt(data.readUInt32LE(set)) | (BigInt(data.readUInt32LE(12 + set)) << 32n);
  return { effective: word(0), permitted: word(4), inheritable: word(8) };
}

export function setCapabilities(sets: CapabilitySets): void {
  header.writeUInt32LE(CAPABILITY_VERSION_3, 0);
  header.writeInt32LE(0, 4);
  const put = (set: number, v: bigint): void => {
    data.writeUInt32LE(Number(v & 0xffffffffn), set);
    data.writeUInt32LE(Number((v >> 32n) & 0xffffffffn), 12 + set);
  };
  put(0, sets.effective);
  put(4, sets.permitted);
  put(8, sets.inheritable);
  check(privLibc().capset(header, data), 'capset');
}

export function capMask(caps: readonly number[]): bigint {
  return caps.reduce((m, c) => m | (1n << BigInt(c)), 0n);
}

/** The highest capability this kernel knows. */
export function lastCapability(): number {
  try {
    return Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
  } catch {
    return 40;
  }
}

/** Drops every capability but `keep` from the bounding set (needs CAP_SETPCAP in effect). */
export function limitBoundingSet(keep: readonly number[]): void {
  const c = privLibc();
  for (let cap = 0; cap <= lastCapability(); cap++) {
    if (keep.includes(cap)) continue;
    if (c.prctl(PR_CAPBSET_READ, cap, 0, 0, 0) !== 1) continue;
    check(c.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), `prctl(PR_CAPBSET_DROP, ${cap})`);
  }
}

export function setKeepCaps(on: boolean): void {
  check(privLibc().prctl(PR_SET_KEEPCAPS, on ? 1 : 0, 0, 0, 0), 'prctl(PR_SET_KEEPCAPS)');
}

/** From here on, no exec can gain a privilege (setuid bits, file capabilities). Inherited by children. */
export function setNoNewPrivs(): void {
  check(privLibc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 'prctl(PR_SET_NO_NEW_PRIVS)');
}

/** Raises `caps` into the ambient set (each must be permitted and inheritable): a child exec'd now keeps them. */
export function raiseAmbient(caps: readonly number[]): void {
  const c = privLibc();
  for (const cap of caps) check(c.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0), `prctl(PR_CAP_AMBIENT_RAISE, ${cap})`);
}

export function clearAmbient(): void {
  check(privLibc().prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), 'prctl(PR_CAP_AMBIENT_CLEAR_ALL)');
}

/** Supplementary groups of `user`, then gid, then uid: the order in which each step is still allowed. */
export function becomeUser(user: PasswdEntry): void {
  const c = privLibc();
  check(c.initgroups(user.name, user.gid), `initgroups(${user.name})`);
  check(c.setgid(user.gid), `setgid(${user.gid})`);
  check(c.setuid(user.uid), `setuid(${user.uid})`);
}

/** A process's capability sets and no_new_privs, as /proc/PID/status shows its main thread. */
export interface ProcessPrivileges {
  readonly uid: number;
  readonly capEff: bigint;
  readonly capPrm: bigint;
  readonly capInh: bigint;
  readonly capBnd: bigint;
  readonly capAmb: bigint;
  readonly noNewPrivs: boolean;
}

export function readProcessPrivileges(pid: number | 'self' = 'self'): ProcessPrivileges {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const hex = (key: string): bigint => {
    const m = new RegExp(`^${key}:\\s*([0-9a-f]+)$`, 'm').exec(text);
    return m ? BigInt(`0x${m[1]}`) : 0n;
  };
  const uid = /^Uid:\s*(\d+)/m.exec(text);
  const nnp = /^NoNewPrivs:\s*(\d)/m.exec(text);
  return {
    uid: uid ? Number(uid[1]) : -1,
    capEff: hex('CapEff'),
    capPrm: hex('CapPrm'),
    capInh: hex('CapInh'),
    capBnd: hex('CapBnd'),
    capAmb: hex('CapAmb'),
    noNewPrivs: nnp?.[1] === '1',
  };
}

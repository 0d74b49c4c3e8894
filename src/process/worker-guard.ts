// A worker checks that it really holds nothing before it parses a byte: it tries
// the one thing the keeper's privileges are for (a raw socket) and refuses to
// serve if that works. A misconfigured start (a wrapper that re-grants
// capabilities, a forgotten user) then fails loudly instead of quietly.
import { AF_INET, IPPROTO_TCP, SOCK_CLOEXEC } from '../../native/constants.js';
import { closeFd, openSocket } from '../../native/socket-ops.js';
import { readProcessPrivileges } from '../../native/privileges.js';
import { PrivilegeError, SyscallError } from '../errors.js';

const SOCK_RAW = 3;

export interface WorkerPrivileges {
  readonly uid: number;
  readonly capEff: string;
  readonly capPrm: string;
  readonly noNewPrivs: boolean;
  /** What socket(AF_INET, SOCK_RAW) answered: 'EPERM' is the only good answer. */
  readonly rawSocket: string;
}

export function checkWorkerPrivileges(expectNonRoot: boolean): WorkerPrivileges {
  const p = readProcessPrivileges();
  let rawSocket = 'opened';
  try {
    closeFd(openSocket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP, 'socket(AF_INET, SOCK_RAW)'));
  } catch (err) {
    if (!(err instanceof SyscallError)) throw err;
    rawSocket = err.errnoCode;
  }
  const report = { uid: p.uid, capEff: p.capEff.toString(16), capPrm: p.capPrm.toString(16), noNewPrivs: p.noNewPrivs, rawSocket };
  if (p.capEff !== 0n || p.capPrm !== 0n || rawSocket !== 'EPERM' || !p.noNewPrivs || (expectNonRoot && p.uid === 0)) {
    throw new PrivilegeError(JSON.stringify(report));
  }
  return report;
}

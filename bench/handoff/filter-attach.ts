// What a pool entry's port reservation pays for its filter: the drop-all and drop-SYN
// filters attached as eBPF programs by fd (SO_ATTACH_BPF) against the same filters as
// classic programs (SO_ATTACH_FILTER: checked and JIT-compiled on every attach), on
// loopback sockets bound and listening as a reservation is. Needs root (or CAP_BPF) for
// the eBPF rows.
//   node dist/bench/handoff/filter-attach.js [--count N] [--rounds N]
import { AF_INET, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_STREAM } from '../../native/constants.js';
import { getLibc } from '../../native/libc.js';
import { bindIp, closeFd, openSocket } from '../../native/socket-ops.js';
import { attachFilter, filterMode, loadFilterPrograms, useClassicFilters, useFilterPrograms } from '../../src/handshake/socket-filters.js';
import { intFlag } from '../int-flag.js';

function timeAttach(count: number): { attachUs: number; closeUs: number } {
  let attach = 0;
  let close = 0;
  for (let i = 0; i < count; i++) {
    const fd = openSocket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, 'socket');
    const t0 = performance.now();
    attachFilter(fd, i % 2 === 0 ? 'dropAll' : 'dropSyn', 'attach');
    const t1 = performance.now();
    bindIp(fd, '127.0.0.1', 0, 'bind');
    getLibc().listen(fd, 1);
    const t2 = performance.now();
    closeFd(fd);
    close += performance.now() - t2;
    attach += t1 - t0;
  }
  return { attachUs: (attach * 1000) / count, closeUs: (close * 1000) / count };
}

const argv = process.argv.slice(2);
const flag = (name: string, dflt: number, hi: number): number => {
  const i = argv.indexOf(name);
  return i < 0 ? dflt : intFlag(name, argv[i + 1] ?? '', 1, hi);
};
const count = flag('--count', 3000, 1_000_000);
const rounds = flag('--rounds', 3, 100);
const programs = loadFilterPrograms();
if (typeof programs === 'string') {
  process.stderr.write(`filter-attach: eBPF programs could not be loaded (${programs}): run as root\n`);
  process.exitCode = 1;
} else {
  process.stdout.write(`| round | eBPF by fd: attach µs | close µs | classic: attach µs | close µs |\n|---:|---:|---:|---:|---:|\n`);
  for (let r = 1; r <= rounds; r++) {
    useFilterPrograms(programs);
    if (filterMode().mode !== 'ebpf') throw new Error('eBPF filters not in use');
    const e = timeAttach(count);
    useClassicFilters('benchmark');
    const c = timeAttach(count);
    process.stdout.write(`| ${r} | ${e.attachUs.toFixed(1)} | ${e.closeUs.toFixed(1)} | ${c.attachUs.toFixed(1)} | ${c.closeUs.toFixed(1)} |\n`);
  }
  process.stdout.write(`\n_${count} sockets per cell, drop-all and drop-SYN alternating · node ${process.version}_\n`);
}

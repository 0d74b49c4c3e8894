import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as errors from '../../src/errors.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('error codes', () => {
  it('every code is documented in the README error table, and the table names no other', () => {
    const documented = [...readme.matchAll(/^\| `(SYNPOOL_ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect([...documented].sort()).toEqual([...errors.ERROR_CODES].sort());
  });

  it('each error class carries a registered code', () => {
    const samples = [
      new errors.SyscallError('setsockopt(TCP_REPAIR)', 1, 'EPERM'),
      new errors.CapabilityError('CAP_NET_RAW', 'the raw SYN socket'),
      new errors.HandshakeTimeoutError('10.0.0.2:80', 100),
      new errors.HandshakeRefusedError('10.0.0.2:80'),
      new errors.EntryStateError('10.0.0.2:80', 'released', 'established'),
      new errors.PooledConnectionResetError('10.0.0.2:80'),
      new errors.TargetNotAllowedError('10.0.0.9:80'),
      new errors.InvalidArgumentError('x'),
      new errors.ConfigError('pool.ttlMs', 'too long'),
      new errors.ListenError('listen', '127.0.0.1', 8080, Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' })),
      new errors.PrivilegeError('{"rawSocket":"opened"}'),
      new errors.ProcessStartError('worker 1', 'exited (1) before it was ready'),
    ];
    expect(new Set(samples.map((e) => e.code))).toEqual(new Set(errors.ERROR_CODES));
    for (const e of samples) expect(e).toBeInstanceOf(errors.SynpoolError);
  });

  it('a syscall error names the call and errno', () => {
    const e = new errors.SyscallError('setsockopt(TCP_REPAIR)', 1, 'EPERM');
    expect(e.message).toBe('setsockopt(TCP_REPAIR) failed: EPERM (errno 1)');
  });

  it('a listen error names the address, the listener and the reason', () => {
    const e = new errors.ListenError('listen', '127.0.0.1', 8080, Object.assign(new Error('x'), { code: 'EADDRINUSE' }));
    expect(e.message).toBe('cannot listen on 127.0.0.1:8080 (listen): address already in use');
    expect(new errors.ListenError('metricsListen', 'h', 1, Object.assign(new Error('x'), { code: 'EWHATEVER' })).message).toBe(
      'cannot listen on h:1 (metricsListen): EWHATEVER',
    );
  });

  it('only a reset before any acknowledged byte is retriable among handoff errors', () => {
    expect(new errors.PooledConnectionResetError('a:1').retriable).toBe(true);
    expect(new errors.EntryStateError('a:1', 's', 'w').retriable).toBe(false);
  });
});

// deploy/synpool.service: systemd accepts it (systemd-analyze verify, on a copy whose
// ExecStart names binaries that exist here), and the lines that decide what the
// service may do say what the docs and the code need: the service user, exactly the
// two capabilities src/handshake/capabilities.ts checks, SIGHUP for reload, a stop
// timeout above the drain, the keeper's runtime directory.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/config/defaults.js';
import { assertSystemdAnalyze } from '../helpers/prerequisites.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const UNIT_PATH = join(ROOT, 'deploy/synpool.service');
const UNIT = readFileSync(UNIT_PATH, 'utf8');

/** Section → key → values (a key may repeat); comments and blank lines dropped, no line continuations in this file. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1]!, current);
      continue;
    }
    expect(line.endsWith('\\'), `no line continuation: ${line}`).toBe(false);
    const eq = line.indexOf('=');
    expect(eq > 0 && current !== undefined, `a key=value line inside a section: ${line}`).toBe(true);
    const key = line.slice(0, eq).trim();
    current!.set(key, [...(current!.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return sections;
}

const service = parseUnit(UNIT).get('Service')!;
/** The one value of a key that must appear once. */
function one(key: string): string {
  const values = service.get(key);
  expect(values, `[Service] ${key}=`).toHaveLength(1);
  return values![0]!;
}
const words = (key: string): string[] => one(key).split(/\s+/).sort();

/** The capability names the code checks for (`const CAP_NET_RAW = 13;` in src/handshake/capabilities.ts). */
function capabilitiesTheCodeNeeds(): string[] {
  const src = readFileSync(join(ROOT, 'src/handshake/capabilities.ts'), 'utf8');
  return [...src.matchAll(/^const (CAP_[A-Z_]+) = \d+;/gm)].map((m) => m[1]!).sort();
}

describe('deploy/synpool.service', () => {
  it('runs as the synpool user with exactly the capabilities the code checks, ambient, nothing else bounded', () => {
    const needed = capabilitiesTheCodeNeeds();
    expect(needed).toEqual(['CAP_NET_ADMIN', 'CAP_NET_RAW']);
    expect(one('User')).toBe('synpool');
    expect(one('Group')).toBe('synpool');
    expect(words('AmbientCapabilities')).toEqual(needed);
    expect(words('CapabilityBoundingSet')).toEqual(needed);
    // Ambient capabilities survive no_new_privs (only set-id bits and file capabilities do not).
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(service.has('DynamicUser')).toBe(false);
  });

  it('starts the CLI with the /etc config, --workers auto and the keeper socket in /run/synpool; reload is SIGHUP; stop drains first', () => {
    expect(one('ExecStart')).toBe('/usr/bin/synpool --config /etc/synpool/synpool.yaml --workers auto --keeper-socket /run/synpool/keeper.sock');
    expect(one('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    expect(one('KillSignal')).toBe('SIGTERM');
    expect(one('Restart')).toBe('on-failure');
    const stop = /^(\d+)s$/.exec(one('TimeoutStopSec'));
    expect(stop, 'TimeoutStopSec in seconds').not.toBeNull();
    // Above the drain (shutdownTimeoutMs) so systemd does not SIGKILL a draining proxy, but not far above.
    expect(Number(stop![1]) * 1000).toBeGreaterThan(DEFAULTS.shutdownTimeoutMs);
    expect(Number(stop![1]) * 1000).toBeLessThanOrEqual(DEFAULTS.shutdownTimeoutMs + 10_000);
  });

  it('hardening: the keeper socket directory, a read-only system, the socket families the code opens', () => {
    expect(one('RuntimeDirectory')).toBe('synpool');
    expect(one('RuntimeDirectoryMode')).toBe('0750');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('ProtectHome')).toBe('yes');
    expect(one('PrivateTmp')).toBe('yes');
    const families = words('RestrictAddressFamilies');
    for (const f of ['AF_INET', 'AF_INET6', 'AF_UNIX']) expect(families).toContain(f);
    // The raw SYN channel is AF_INET/AF_INET6 SOCK_RAW (raw-socket), never a packet socket.
    expect(families).not.toContain('AF_PACKET');
    expect(Number(one('LimitNOFILE'))).toBeGreaterThanOrEqual(65_536);
    // V8's JIT needs W+X pages; this would stop node from starting.
    expect(service.has('MemoryDenyWriteExecute')).toBe(false);
  });

  it('systemd-analyze verify accepts it, with no warning', () => {
    const analyze = assertSystemdAnalyze();
    // verify refuses an ExecStart binary that does not exist; /usr/bin/synpool is not installed
    // here, so a copy runs this node on the CLI the build makes. Everything else is unchanged.
    const cli = join(ROOT, 'dist/src/cli.js');
    const copy = UNIT.replace(/^ExecStart=\/usr\/bin\/synpool /m, `ExecStart=${process.execPath} ${cli} `);
    expect(copy).not.toBe(UNIT);
    const dir = mkdtempSync(join(tmpdir(), 'synpool-unit-'));
    try {
      const file = join(dir, 'synpool.service');
      writeFileSync(file, copy);
      const run = spawnSync(analyze, ['verify', file], { encoding: 'utf8', timeout: 30_000 });
      // verify exits 0 on an unknown key or a value it cannot parse and only warns on stderr,
      // so a clean run is exit 0 and nothing on stderr.
      expect({ status: run.status, stderr: run.stderr, error: run.error?.message }).toEqual({ status: 0, stderr: '', error: undefined });

      // The check has teeth: a misspelt key and a bad value are reported.
      writeFileSync(file, copy.replace(/^ProtectHome=yes$/m, 'ProtectHome=bogus').replace(/^LockPersonality=/m, 'LockPersonalitty='));
      const bad = spawnSync(analyze, ['verify', file], { encoding: 'utf8', timeout: 30_000 });
      expect(bad.stderr).toMatch(/protect home value/i);
      expect(bad.stderr).toMatch(/Unknown key 'LockPersonalitty'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { DEFAULTS } from '../../src/config/defaults.js';
import { loadConfig, resolveUpstream } from '../../src/config/load-config.js';
import { parseUpstreamUrl, validateConfig } from '../../src/config/schema.js';
import { configError } from '../helpers/config-error.js';

const UP = { upstream: 'http://10.0.0.2:8080' };

// One folder for the file's lifetime, removed after it (test/unit/temp-cleanup.test.ts checks).
let dir: string | undefined;
let files = 0;
afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

function tempFile(name: string, text: string): string {
  dir ??= mkdtempSync(join(tmpdir(), 'synpool-config-'));
  const path = join(dir, `${++files}-${name}`);
  writeFileSync(path, text);
  return path;
}

describe('config: validation', () => {
  it('fills defaults and deep-freezes the result', () => {
    const c = validateConfig(UP);
    expect(c.connectTimeoutMs).toBe(DEFAULTS.connectTimeoutMs);
    expect(c.pool.targetSize).toBe(8);
    expect(c.pool.ttlMs).toBe(50_000);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.pool)).toBe(true);
    expect(() => {
      (c as { accel: boolean }).accel = false;
    }).toThrow(TypeError);
  });

  it('requires the upstream', () => {
    expect(configError(() => validateConfig({})).field).toBe('upstream');
  });

  it('rejects an unknown key, naming it', () => {
    const err = configError(() => validateConfig({ ...UP, connectTimeout: 5 }));
    expect(err.field).toBe('connectTimeout');
    expect(err.message).toContain('unknown key');
    expect(err.message).toContain('connectTimeoutMs');
  });

  it.each([
    ['connectTimeoutMs', '5s', 'integer from 1'],
    ['accel', 'yes', 'true or false'],
    ['preserveHost', 1, 'true or false'],
    ['logLevel', 'loud', 'one of fatal'],
    ['listen', 8080, 'HOST:PORT'],
    ['metricsListen', 'localhost', 'HOST:PORT'],
    ['pool', [1, 2], 'an object'],
  ])('rejects a wrong type for %s, naming field, value and what is allowed', (field, value, allowed) => {
    const err = configError(() => validateConfig({ ...UP, [field]: value }));
    expect(err.field).toBe(field);
    expect(err.code).toBe('SYNPOOL_ERR_CONFIG');
    expect(err.message).toContain(`config ${field}:`);
    expect(err.message).toContain(JSON.stringify(value));
    expect(err.message).toContain(allowed);
  });

  it.each([
    ['connectTimeoutMs', 0],
    ['headersTimeoutMs', 3_600_001],
    ['maxUpstreamConnections', 70_000],
    ['retryBufferBytes', -1],
    ['bodyTimeoutMs', 1.5],
    ['listen', '127.0.0.1:70000'],
  ])('rejects %s out of range (%s)', (field, value) => {
    const err = configError(() => validateConfig({ ...UP, [field]: value }));
    expect(err.field).toBe(field);
    expect(err.message).toContain(String(value));
  });

  it('rejects a negative pool number as pool.<field>', () => {
    const err = configError(() => validateConfig({ ...UP, pool: { targetSize: -1 } }));
    expect(err.field).toBe('pool.targetSize');
  });

  it('checks the pool section with the pool rules, naming the field', () => {
    expect(configError(() => validateConfig({ ...UP, pool: { refreshBeforeMs: 5000 } })).field).toBe('pool.refreshBeforeMs');
    expect(configError(() => validateConfig({ ...UP, pool: { ttlMs: 90_000 } })).message).toContain('63 s');
    expect(configError(() => validateConfig({ ...UP, pool: { minSize: 9, maxSize: 4 } })).field).toBe('pool.minSize');
  });

  it.each([
    'ftp://10.0.0.2',
    'http://[fe80::1]:80',
    'http://[ff02::1]:80',
    'http://[::ffff:10.0.0.2]:80',
    'http://user:pw@10.0.0.2',
    'http://10.0.0.2/prefix',
    'http://10.0.0.2/?q=1',
    'not a url',
  ])('rejects upstream %s', (upstream) => {
    const err = configError(() => validateConfig({ upstream }));
    expect(err.field).toBe('upstream');
    expect(err.message).toContain(upstream);
  });

  it.each([
    ['http://[fd00::2]:8080', 'fd00::2', 8080],
    ['https://[FD00:0:0:0::2]', 'fd00::2', 443],
    ['http://[2001:db8::1]', '2001:db8::1', 80],
  ])('accepts the IPv6 upstream %s (canonical host, no brackets)', (upstream, host, port) => {
    const u = parseUpstreamUrl('upstream', upstream);
    expect(u.hostname).toBe(host);
    expect(u.port).toBe(port);
    expect(u.hostHeader.startsWith('[')).toBe(true);
  });

  it('says why a link-local upstream is refused', () => {
    expect(configError(() => validateConfig({ upstream: 'http://[fe80::1]:80' })).message).toMatch(/link-local/);
  });

  it('accepts metricsListen: null (disabled)', () => {
    expect(validateConfig({ ...UP, metricsListen: null }).metricsListen).toBeNull();
  });
});

describe('config: files and overrides', () => {
  it('reads YAML', () => {
    const file = tempFile('c.yaml', 'upstream: "http://10.0.0.3:81"\nconnectTimeoutMs: 1234\npool:\n  targetSize: 3\n');
    const c = loadConfig({ file });
    expect(c).toMatchObject({ upstream: 'http://10.0.0.3:81', connectTimeoutMs: 1234, pool: { targetSize: 3, maxSize: 64 } });
  });

  it('reads JSON', () => {
    const file = tempFile('c.json', JSON.stringify({ upstream: 'http://10.0.0.3:81', accel: false }));
    expect(loadConfig({ file })).toMatchObject({ upstream: 'http://10.0.0.3:81', accel: false });
  });

  it('flags override the file (pool merged key by key)', () => {
    const file = tempFile('c.yaml', 'upstream: "http://10.0.0.3:81"\nlisten: "0.0.0.0:80"\naccel: true\npool: { targetSize: 3, maxSize: 9 }\n');
    const c = loadConfig({ file, overrides: { listen: '127.0.0.1:9000', accel: false, pool: { targetSize: 5 } } });
    expect(c).toMatchObject({ upstream: 'http://10.0.0.3:81', listen: '127.0.0.1:9000', accel: false, pool: { targetSize: 5, maxSize: 9 } });
  });

  it('an unknown key in a file is named', () => {
    const file = tempFile('c.yaml', 'upstream: "http://10.0.0.3:81"\nupstreams: []\n');
    expect(configError(() => loadConfig({ file })).field).toBe('upstreams');
  });

  it('an unreadable or unparsable file is a ConfigError', () => {
    expect(configError(() => loadConfig({ file: '/nonexistent/synpool.yaml' })).message).toContain('ENOENT');
    const file = tempFile('c.json', '{ nope');
    expect(configError(() => loadConfig({ file })).message).toContain('cannot parse');
  });
});

describe('config: upstream resolution', () => {
  it('keeps an IPv4 literal and defaults the port to 80', async () => {
    const t = await resolveUpstream('http://10.0.0.2');
    expect(t).toMatchObject({ endpoint: { address: '10.0.0.2', port: 80 }, hostHeader: '10.0.0.2', origin: 'http://10.0.0.2:80' });
  });

  it('keeps an IPv6 literal: endpoint without brackets, origin and Host with them, no lookup', async () => {
    const t = await resolveUpstream('https://[fd00:0::2]:8443', async () => {
      throw new Error('no lookup for a literal');
    });
    expect(t).toMatchObject({
      endpoint: { address: 'fd00::2', port: 8443 },
      hostHeader: '[fd00::2]:8443',
      origin: 'https://[fd00::2]:8443',
      servername: 'fd00::2',
    });
  });

  it('resolves a hostname once to IPv4 and keeps the name for Host', async () => {
    const seen: string[] = [];
    const t = await resolveUpstream('http://backend.internal:8081', async (h) => {
      seen.push(h);
      return '10.1.2.3';
    });
    expect(seen).toEqual(['backend.internal']);
    expect(t).toMatchObject({ endpoint: { address: '10.1.2.3', port: 8081 }, hostHeader: 'backend.internal:8081', origin: 'http://10.1.2.3:8081' });
  });

  it('a name that does not resolve is a ConfigError on upstream', async () => {
    const err = await resolveUpstream('http://nowhere.invalid', async () => {
      throw Object.assign(new Error('nope'), { code: 'ENOTFOUND' });
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).field).toBe('upstream');
    expect((err as ConfigError).message).toContain('ENOTFOUND');
  });
});

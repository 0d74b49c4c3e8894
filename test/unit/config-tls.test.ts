// The `tls` config section and https upstream URLs: validated once, named on failure, documented.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { resolveUpstream } from '../../src/config/load-config.js';
import { validateConfig } from '../../src/config/schema.js';
import { TLS_DEFAULTS } from '../../src/config/tls-settings.js';
import { upstreamTlsOptions } from '../../src/config/upstream-tls-options.js';
import { configError } from '../helpers/config-error.js';

const UP = { upstream: 'https://backend.internal' };
const read = (rel: string): string => readFileSync(new URL(`../../${rel}`, import.meta.url), 'utf8');

describe('tls section', () => {
  it('defaults: no extra CA, the URL host as name, verification on', () => {
    expect(validateConfig(UP).tls).toEqual({ ca: null, servername: null, verify: true });
  });

  it('is merged key by key across layers, and frozen', () => {
    const c = validateConfig({ ...UP, tls: { ca: '/etc/ca.pem' } }, { tls: { servername: 'b.example' } });
    expect(c.tls).toEqual({ ca: '/etc/ca.pem', servername: 'b.example', verify: true });
    expect(Object.isFrozen(c.tls)).toBe(true);
  });

  it.each([
    [{ verfy: false }, 'tls.verfy', /unknown field; allowed: ca, servername, verify/],
    [{ verify: 'no' }, 'tls.verify', /true or false/],
    [{ ca: 7 }, 'tls.ca', /PEM file/],
    [{ ca: '' }, 'tls.ca', /PEM file/],
    [{ servername: '10.0.0.2' }, 'tls.servername', /not an IP address/],
    [{ servername: 'bad name' }, 'tls.servername', /a DNS name/],
  ])('rejects %j naming %s', (tls, field, message) => {
    const err = configError(() => validateConfig({ ...UP, tls }));
    expect(err.field).toBe(field);
    expect(err.message).toMatch(message);
  });

  it('rejects a tls value that is not an object', () => {
    expect(configError(() => validateConfig({ ...UP, tls: true })).field).toBe('tls');
  });
});

describe('https upstream URL', () => {
  it('is accepted; the default port is 443; other schemes are refused', () => {
    expect(validateConfig(UP).upstream).toBe('https://backend.internal');
    expect(configError(() => validateConfig({ upstream: 'ftp://10.0.0.2' })).message).toMatch(/http:\/\/ or https:\/\//);
  });

  it('keeps its scheme in the origin (the resolved address) and carries the name apart', async () => {
    const t = await resolveUpstream('https://backend.internal', async () => '10.1.2.3');
    expect(t).toMatchObject({ origin: 'https://10.1.2.3:443', protocol: 'https:', servername: 'backend.internal', hostHeader: 'backend.internal', endpoint: { address: '10.1.2.3', port: 443 } });
    const ip = await resolveUpstream('https://10.0.0.2:8443');
    expect(ip).toMatchObject({ origin: 'https://10.0.0.2:8443', servername: '10.0.0.2' });
    expect(await resolveUpstream('http://10.0.0.2')).toMatchObject({ origin: 'http://10.0.0.2:80', protocol: 'http:' });
  });
});

describe('upstreamTlsOptions (read once at start)', () => {
  const upstream = { url: 'https://b.example', endpoint: { address: '10.0.0.2', port: 443 }, hostHeader: 'b.example', origin: 'https://10.0.0.2:443', protocol: 'https:' as const, servername: 'b.example' };

  it('the name is tls.servername, else the URL host; verify maps to rejectUnauthorized', () => {
    expect(upstreamTlsOptions({ ...TLS_DEFAULTS }, upstream)).toEqual({ servername: 'b.example', rejectUnauthorized: true });
    expect(upstreamTlsOptions({ ca: null, servername: 'other.example', verify: false }, upstream)).toEqual({ servername: 'other.example', rejectUnauthorized: false });
  });

  it('an unreadable tls.ca, or one without a PEM certificate, is a ConfigError naming tls.ca', () => {
    const missing = configError(() => upstreamTlsOptions({ ...TLS_DEFAULTS, ca: '/nonexistent/ca.pem' }, upstream));
    expect(missing.field).toBe('tls.ca');
    expect(missing.message).toMatch(/ENOENT/);
    const notPem = configError(() => upstreamTlsOptions({ ...TLS_DEFAULTS, ca: new URL('../../package.json', import.meta.url).pathname }, upstream));
    expect(notPem.message).toMatch(/no PEM certificate/);
  });
});

describe('tls keys in the docs', () => {
  it('every tls key is in docs/proxy.md, README.md and config/default.yaml (with its default)', () => {
    const yaml = parseYaml(read('config/default.yaml')) as { tls: Record<string, unknown> };
    expect(yaml.tls).toEqual(TLS_DEFAULTS);
    const doc = read('docs/proxy.md');
    const readme = read('README.md');
    for (const key of Object.keys(TLS_DEFAULTS)) {
      expect(doc, `docs/proxy.md names ${key}`).toMatch(new RegExp('`tls`[^\\n]*`' + key + '`|`tls\\.' + key + '`'));
      expect(readme, `README names tls.${key}`).toContain('`tls.' + key + '`');
    }
  });
});

// The TLS the connector speaks, against node:tls servers on loopback (plain connects;
// the pooled path is in proxy-ns-https.test.ts): ALPN http/1.1 only, TLS 1.2 accepted,
// anything older refused with a 502 that says so.
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcceleratedAgent } from '../../src/proxy/accelerated-agent.js';
import type { TlsHandshakeEvent } from '../../src/proxy/tls-handshake.js';
import { upstreamErrorResponse } from '../../src/proxy/upstream-error.js';
import { missingPrerequisites } from '../helpers/prerequisites.js';
import { createPrivateCa, issueCert, type IssuedCert, type PrivateCa } from '../../bench/upstream/private-ca.js';

let dir: string;
let ca: PrivateCa;
let cert: IssuedCert;
const servers: Server[] = [];
const agents: AcceleratedAgent[] = [];

beforeAll(() => {
  const missing = missingPrerequisites(['openssl'], false);
  if (missing.length > 0) throw new Error(`prerequisites missing: ${missing.join(', ')} (scripts/ensure-system-packages.sh installs them)`);
  // Removed in afterAll (test/unit/temp-cleanup.test.ts checks).
  dir = mkdtempSync(join(tmpdir(), 'synpool-tls-'));
  ca = createPrivateCa(dir);
  cert = issueCert(ca, { name: 'loopback', dns: ['upstream.test'], ips: ['127.0.0.1'] });
});

afterAll(async () => {
  await Promise.allSettled(agents.map((a) => a.destroy()));
  for (const s of servers) s.closeAllConnections();
  await Promise.allSettled(servers.map((s) => new Promise((r) => s.close(r))));
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

async function server(options: Parameters<typeof createServer>[0]): Promise<{ port: number; alpn: (string | false | null)[] }> {
  const alpn: (string | false | null)[] = [];
  const s = createServer({ cert: cert.cert, key: cert.key, ...options }, (_req, res) => res.end('ok'));
  s.on('secureConnection', (socket: TLSSocket) => alpn.push(socket.alpnProtocol));
  s.on('tlsClientError', () => undefined);
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  servers.push(s);
  return { port: (s.address() as AddressInfo).port, alpn };
}

function agent(): { agent: AcceleratedAgent; handshakes: TlsHandshakeEvent[] } {
  const a = new AcceleratedAgent({ connectTimeoutMs: 2_000, tls: { ca: readFileSync(ca.certFile, 'utf8'), servername: 'upstream.test' } });
  agents.push(a);
  const handshakes: TlsHandshakeEvent[] = [];
  a.events.on('tls-handshake', (e) => handshakes.push(e));
  return { agent: a, handshakes };
}

describe('the connector over TLS', () => {
  it('offers only http/1.1 by ALPN, to a server that prefers h2', async () => {
    const s = await server({ ALPNProtocols: ['h2', 'http/1.1'] });
    const { agent: a, handshakes } = agent();
    const res = await request(`https://127.0.0.1:${s.port}/`, { dispatcher: a });
    expect(await res.body.text()).toBe('ok');
    expect(s.alpn).toEqual(['http/1.1']);
    expect(handshakes).toMatchObject([{ origin: 'upstream.test:' + String(s.port), connection: 'plain', protocol: 'TLSv1.3', resumed: false }]);
  });

  it('TLS 1.2 is accepted', async () => {
    const s = await server({ maxVersion: 'TLSv1.2' });
    const { agent: a, handshakes } = agent();
    const res = await request(`https://127.0.0.1:${s.port}/`, { dispatcher: a });
    expect(res.statusCode).toBe(200);
    await res.body.text();
    expect(handshakes.map((h) => h.protocol)).toEqual(['TLSv1.2']);
  });

  it('TLS 1.1 is refused: a TLS error, 502 "upstream TLS handshake failed"', async () => {
    const s = await server({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
    const { agent: a, handshakes } = agent();
    const err = await request(`https://127.0.0.1:${s.port}/`, { dispatcher: a }).then(
      () => undefined,
      (e: unknown) => e as NodeJS.ErrnoException,
    );
    expect(err?.code).toMatch(/^ERR_SSL_/);
    expect(upstreamErrorResponse(err)).toMatchObject({ status: 502, message: 'upstream TLS handshake failed' });
    expect(handshakes).toEqual([]);
  });
});

// `synpool probe https://…` across the emulated link: the TLS handshake time is
// reported apart, for the accelerated and the plain connection, and a certificate
// that does not match is an upstream failure (exit 4) naming the reason.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopology, type Topology } from '../../bench/topology/index.js';
import { startNodeUpstream, type UpstreamServer } from '../../bench/upstream/index.js';
import { PROBE_EXIT } from '../../src/commands/probe.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';
import { probeInClient } from '../helpers/probe-in-namespace.js';
import { createPrivateCa, issueCert, type PrivateCa } from '../../bench/upstream/private-ca.js';

const ONE_WAY_MS = 20;
const RTT_MS = 2 * ONE_WAY_MS;
const NAME = 'upstream.test';

let topo: Topology;
let ca: PrivateCa;
let https: UpstreamServer;

beforeAll(async () => {
  assertIntegrationPrerequisites(['openssl']);
  topo = await createTopology({ oneWayDelayMs: ONE_WAY_MS, link: 'vde', prefix: 'spph' });
  ca = createPrivateCa(join(topo.dir, 'ca'));
  https = await startNodeUpstream(topo, { tls: issueCert(ca, { name: 'origin', dns: [NAME] }) });
}, 60_000);

afterAll(async () => {
  await https?.stop();
  await topo?.destroy();
});

describe('synpool probe https://', () => {
  it('--json reports the TLS handshake apart: one round trip on both connections, the accelerated GET one round trip sooner', async () => {
    const url = `https://${topo.serverAddr}:${https.port}/`;
    const { code, out, err } = await probeInClient(topo, [url, '--json', '--count', '3', '--wait', '50', '--ca', ca.certFile, '--servername', NAME]);
    expect(err).toBe('');
    expect(code).toBe(PROBE_EXIT.ok);
    const r = JSON.parse(out) as {
      accelerated: { synAckRttMs: number; handoffUs: number; tlsMs: number; ttfbMs: number; totalMs: number };
      plain: { connectMs: number; tlsMs: number; ttfbMs: number; totalMs: number };
    };
    const report = JSON.stringify(r);
    console.log(`synpool probe ${url} --count 3 at ${RTT_MS} ms RTT: ${report}`);
    // TLS 1.3: the handshake is one round trip, on a pooled socket as on a plain one.
    expect(r.accelerated.tlsMs, report).toBeGreaterThan(0.9 * RTT_MS);
    expect(r.accelerated.tlsMs, report).toBeLessThan(1.5 * RTT_MS);
    expect(r.plain.tlsMs, report).toBeGreaterThan(0.9 * RTT_MS);
    expect(r.plain.tlsMs, report).toBeLessThan(1.5 * RTT_MS);
    // TLS + request, against TCP + TLS + request, in round trips as measured on this run (the
    // delay line adds a few ms to the nominal RTT, more on a loaded machine).
    const rtt = Math.max(RTT_MS, r.accelerated.synAckRttMs, r.plain.connectMs);
    expect(r.accelerated.ttfbMs, report).toBeLessThan(2.5 * rtt);
    expect(r.plain.ttfbMs, report).toBeGreaterThan(2.6 * RTT_MS);
    expect(r.accelerated.totalMs, report).toBeLessThan(r.plain.totalMs - 0.5 * RTT_MS);
  });

  it('the human report names the TLS handshake on both lines', async () => {
    const url = `https://${topo.serverAddr}:${https.port}/`;
    const { code, out } = await probeInClient(topo, [url, '--wait', '20', '--ca', ca.certFile, '--servername', NAME]);
    expect(code).toBe(PROBE_EXIT.ok);
    expect(out).toMatch(/accelerated {10}handoff \d+ µs, TLS handshake [\d.]+ ms, first byte/);
    console.log(out);
    expect(out).toMatch(/plain connect {8}connect [\d.]+ ms, TLS handshake [\d.]+ ms, first byte/);
  });

  it('a certificate for another name: exit 4, the code in the JSON error', async () => {
    const url = `https://${topo.serverAddr}:${https.port}/`;
    const { code, out } = await probeInClient(topo, [url, '--json', '--wait', '20', '--ca', ca.certFile, '--servername', 'other.test']);
    expect(code).toBe(PROBE_EXIT.upstream);
    expect(JSON.parse(out)).toMatchObject({ error: { code: 'ERR_TLS_CERT_ALTNAME_INVALID' } });
  });

  it('https options on an http:// URL are a usage error', async () => {
    const { code, err } = await probeInClient(topo, [`http://${topo.serverAddr}:${https.port}/`, '--insecure']);
    expect(code).toBe(PROBE_EXIT.usage);
    expect(err).toMatch(/https:\/\/ URLs only/);
  });
});

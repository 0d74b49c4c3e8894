import { readFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { CapabilityError, SynpoolError } from '../errors.js';
import { checkCapabilities } from '../handshake/capabilities.js';
import { parseEndpoint, type Endpoint } from '../handshake/endpoint.js';
import { Handshaker } from '../handshake/handshaker.js';
import { probeTls, type ProbeTls } from '../probe/probe-tls.js';
import { probeOnce, summarize, type ProbeOptions, type ProbeResult, type ProbeRun } from '../probe/run-probe.js';

export const PROBE_USAGE = `Usage: synpool probe <http(s)://host:port/path> [options]

Pre-handshakes to the URL's host (IPv4, [IPv6] or a name) and port, waits, hands the half-open
connection off with TCP_REPAIR, sends a GET, and reports SYN-ACK RTT, handoff
time, time to first byte and total time, next to the same GET over a plain
connect. An https:// URL: TLS over each connection first (verified, a full
handshake each run), its time reported separately. Needs CAP_NET_RAW and
CAP_NET_ADMIN (or root).

Options:
  --wait MS        how long the entry stays half-open before the handoff (default 200)
  --count N        repeat N times and report medians (default 1)
  --timeout MS     SYN-ACK and request timeout (default 3000)
  --json           print one JSON object
  --ca FILE        https: a PEM file of CAs trusted on top of Node's defaults
  --servername N   https: SNI and the name checked (default: the URL's host)
  --insecure       https: do not verify the certificate
  -h, --help       this text

Exit codes: 0 ok, 2 usage, 3 missing capability, 4 the upstream did not answer
(no SYN-ACK, refused, reset) or the request failed.`;

export const PROBE_EXIT = { ok: 0, usage: 2, capability: 3, upstream: 4 } as const;

interface ProbeCli {
  url: URL;
  waitMs: number;
  count: number;
  timeoutMs: number;
  json: boolean;
  tls: ProbeTls | undefined;
}

function positiveInt(name: string, raw: string | undefined, dflt: number, min: number, max: number): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new SynpoolError('SYNPOOL_ERR_INVALID_ARGUMENT', `--${name} must be an integer in ${min}..${max}, got ${raw}`);
  return n;
}

export function parseProbeArgs(argv: string[]): ProbeCli | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      wait: { type: 'string' },
      count: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean', default: false },
      ca: { type: 'string' },
      servername: { type: 'string' },
      insecure: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  if (positionals.length !== 1) throw new SynpoolError('SYNPOOL_ERR_INVALID_ARGUMENT', 'probe takes exactly one URL');
  let url: URL;
  try {
    url = new URL(positionals[0] as string);
  } catch {
    throw new SynpoolError('SYNPOOL_ERR_INVALID_ARGUMENT', `not a URL: ${positionals[0]}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SynpoolError('SYNPOOL_ERR_INVALID_ARGUMENT', `only http:// and https:// URLs can be probed, got ${url.protocol}`);
  }
  const https = url.protocol === 'https:';
  if (!https && (values.ca !== undefined || values.servername !== undefined || values.insecure)) {
    throw new SynpoolError('SYNPOOL_ERR_INVALID_ARGUMENT', '--ca, --servername and --insecure apply to https:// URLs only');
  }
  return {
    url,
    waitMs: positiveInt('wait', values.wait, 200, 0, 60_000),
    count: positiveInt('count', values.count, 1, 1, 1000),
    timeoutMs: positiveInt('timeout', values.timeout, 3000, 1, 120_000),
    json: values.json ?? false,
    tls: https ? probeTls(values.servername ?? unbracketed(url.hostname), values.ca === undefined ? undefined : readCa(values.ca), !values.insecure) : undefined,
  };
}

function readCa(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new SynpoolError('SYNPOOL_ERR_INVALID_ARGUMENT', `--ca: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** URL writes an IPv6 host in brackets; sockets, SNI and the certificate check want it bare. */
function unbracketed(hostname: string): string {
  return hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
}

/** An IPv4 or IPv6 literal as is (canonicalised by parseEndpoint; link-local refused there); a name resolves to IPv4. */
async function resolveTarget(url: URL): Promise<Endpoint> {
  const host = unbracketed(url.hostname);
  const address = isIP(host) !== 0 ? host : (await lookup(host, { family: 4 })).address;
  return parseEndpoint(address, url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port));
}

function formatHuman(r: ProbeResult): string {
  const a = r.accelerated;
  const p = r.plain;
  const saved = p.totalMs - a.totalMs;
  const f = (x: number) => x.toFixed(2);
  const tls = (ms: number | undefined) => (ms === undefined ? '' : `, TLS handshake ${f(ms)} ms`);
  return [
    `synpool probe ${r.target} (${r.count} run${r.count === 1 ? '' : 's'}${r.count > 1 ? ', medians' : ''})`,
    `  SYN-ACK round trip   ${f(a.synAckRttMs)} ms`,
    `  accelerated          handoff ${a.handoffUs.toFixed(0)} µs${tls(a.tlsMs)}, first byte ${f(a.ttfbMs)} ms, total ${f(a.totalMs)} ms`,
    `  plain connect        connect ${f(p.connectMs)} ms${tls(p.tlsMs)}, first byte ${f(p.ttfbMs)} ms, total ${f(p.totalMs)} ms`,
    `  saved                ${f(saved)} ms per new connection (${p.totalMs > 0 ? ((saved / p.totalMs) * 100).toFixed(0) : '0'} %)`,
  ].join('\n');
}

/** `synpool probe <url>`: see whether acceleration works against an upstream. Returns the exit code. */
export async function runProbe(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let cli: ProbeCli | 'help';
  try {
    cli = parseProbeArgs(argv);
  } catch (e) {
    err.write(`synpool probe: ${(e as Error).message}\n\n${PROBE_USAGE}\n`);
    return PROBE_EXIT.usage;
  }
  if (cli === 'help') {
    out.write(`${PROBE_USAGE}\n`);
    return PROBE_EXIT.ok;
  }
  const fail = (code: number, e: unknown): number => {
    const message = e instanceof Error ? e.message : String(e);
    const errCode = (e as { code?: string }).code ?? 'SYNPOOL_ERR_PROBE';
    err.write(`synpool probe: ${message}\n`);
    if ((cli as ProbeCli).json) out.write(`${JSON.stringify({ error: { code: errCode, message } })}\n`);
    return code;
  };

  const caps = checkCapabilities();
  if (caps.missing.length > 0) {
    return fail(PROBE_EXIT.capability, new CapabilityError(caps.netRaw ? 'CAP_NET_ADMIN' : 'CAP_NET_RAW', `probing (missing: ${caps.missing.join(', ')})`));
  }
  let target: Endpoint;
  try {
    target = await resolveTarget(cli.url);
  } catch (e) {
    return fail(PROBE_EXIT.usage, e);
  }
  let hs: Handshaker;
  try {
    hs = Handshaker.create({ targets: [target] });
  } catch (e) {
    return fail(e instanceof CapabilityError ? PROBE_EXIT.capability : PROBE_EXIT.upstream, e);
  }
  const options: ProbeOptions = {
    target,
    path: `${cli.url.pathname}${cli.url.search}`,
    hostHeader: cli.url.host,
    waitMs: cli.waitMs,
    count: cli.count,
    synAckTimeoutMs: cli.timeoutMs,
    requestTimeoutMs: cli.timeoutMs + cli.waitMs,
    ...(cli.tls === undefined ? {} : { tls: cli.tls }),
  };
  try {
    const runs: ProbeRun[] = [];
    for (let i = 0; i < cli.count; i++) runs.push(await probeOnce(hs, options));
    const result = summarize(target, runs);
    out.write(`${cli.json ? JSON.stringify(result) : formatHuman(result)}\n`);
    return PROBE_EXIT.ok;
  } catch (e) {
    return fail(PROBE_EXIT.upstream, describeNetworkError(e));
  } finally {
    hs.close();
  }
}

function describeNetworkError(e: unknown): unknown {
  if (e instanceof SynpoolError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') return new SynpoolError('SYNPOOL_ERR_HANDSHAKE_REFUSED', `plain connect refused: ${(e as Error).message}`);
  if (code === 'ECONNRESET') return new SynpoolError('SYNPOOL_ERR_POOLED_RESET', `connection reset: ${(e as Error).message}`);
  return e;
}

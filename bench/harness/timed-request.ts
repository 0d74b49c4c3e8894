// One GET, timed from the moment it was due until the last body byte, on a
// new client connection every time (agent: false): the client side costs the
// same for every contender; what differs is what lies behind the address.
// direct-open's target brings a keep-alive agent instead: its connections are open.
// An https target (the direct contender of https-close) goes through its own
// undici Agent instead, which trusts the private CA and reuses TLS sessions.
import http from 'node:http';
import type { Dispatcher } from 'undici';

/** No single request may take longer than this, ms. */
export const REQUEST_DEADLINE_MS = 10_000;

export interface Target {
  host: string;
  port: number;
  path: string;
  /** https: the dispatcher (an undici Agent with `connect: { ca, servername }`) that sends the request. */
  https?: Dispatcher;
  /** direct-open: a keep-alive agent whose connections were opened beforehand. */
  agent?: http.Agent;
}

export type RequestOutcome = { ok: true; ms: number } | { ok: false; ms: number; error: string };

/**
 * GET target; `dueAt` (performance.now() time) is when an open-loop schedule
 * wanted the request to start: latency counts from then, not from when the
 * event loop got round to it.
 */
export function timedGet(target: Target, dueAt = performance.now(), deadlineMs = REQUEST_DEADLINE_MS): Promise<RequestOutcome> {
  if (target.https !== undefined) return timedHttpsGet(target, target.https, dueAt, deadlineMs);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: RequestOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const fail = (error: string): void => finish({ ok: false, ms: performance.now() - dueAt, error });
    const conn = target.agent !== undefined ? { agent: target.agent } : { agent: false, headers: { connection: 'close' } };
    const req = http.request({ host: target.host, port: target.port, path: target.path, method: 'GET', ...conn }, (res) => {
      const status = res.statusCode ?? 0;
      res.on('data', () => {});
      res.on('error', (err) => fail(err.message));
      res.on('end', () => {
        if (status >= 200 && status < 300) finish({ ok: true, ms: performance.now() - dueAt });
        else fail(`HTTP ${status}`);
      });
    });
    const timer = setTimeout(() => {
      fail(`no response within ${deadlineMs} ms`);
      req.destroy();
    }, deadlineMs);
    req.on('error', (err) => fail(err.message));
    req.end();
  });
}

async function timedHttpsGet(target: Target, dispatcher: Dispatcher, dueAt: number, deadlineMs: number): Promise<RequestOutcome> {
  try {
    const res = await dispatcher.request({
      origin: `https://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`,
      path: target.path,
      method: 'GET',
      signal: AbortSignal.timeout(deadlineMs),
    });
    await res.body.text();
    if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, ms: performance.now() - dueAt };
    return { ok: false, ms: performance.now() - dueAt, error: `HTTP ${res.statusCode}` };
  } catch (err) {
    const e = err as Error & { code?: string; cause?: Error & { code?: string } };
    const why = e.cause?.code ?? e.code;
    return { ok: false, ms: performance.now() - dueAt, error: why !== undefined ? `${e.message} (${why})` : e.message };
  }
}

/** Latency samples and errors of one contender in one scenario. */
export class SampleSink {
  readonly samplesMs: number[] = [];
  errorCount = 0;
  /** The first few error messages, for the log. */
  readonly firstErrors: string[] = [];

  record(outcome: RequestOutcome): void {
    if (outcome.ok) {
      this.samplesMs.push(outcome.ms);
      return;
    }
    this.errorCount++;
    if (this.firstErrors.length < 5) this.firstErrors.push(outcome.error);
  }
}

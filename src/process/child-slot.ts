// One supervised child (the keeper, or worker N): forks it, hands it its start
// message, restarts it when it dies (with a backoff that resets once it has
// lived a while), and carries the request/answer exchanges the supervisor has
// with it.
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { ChildMessage, ChildRole, MetricsJson, ParentMessage, StartMessage } from './messages.js';
import type { ReloadOutcome } from '../cli.js';

const RESTART_MIN_MS = 100;
/**
 * A keeper that dies leaves its half-open entries on the upstream until the server's next
 * SYN-ACK retransmit meets the freed port (our kernel resets it: seconds, for young
 * entries). Its restarts start slower, so a keeper that keeps dying cannot stack fresh
 * pools on top of those into the upstream's backlog.
 */
const KEEPER_RESTART_MIN_MS = 1_000;
const RESTART_MAX_MS = 5_000;
/** A child that lived this long starts the backoff over when it dies. */
const STABLE_MS = 10_000;

export interface ChildSlotOptions {
  readonly role: ChildRole;
  readonly id: number;
  readonly entry: string;
  /** stdio beyond 0-3 (inherited listener fds, at positions 4, 5…). */
  readonly extraFds: readonly number[];
  /** The start message for the next fork (the config in force then). */
  readonly startMessage: () => StartMessage;
  /** Wraps the synchronous fork (the keeper's ambient capabilities). */
  readonly aroundFork?: <T>(fork: () => T) => T;
}

export interface ChildSlotEvents {
  ready: [info: Extract<ChildMessage, { type: 'ready' }>];
  exit: [info: { code: number | null; signal: NodeJS.Signals | null; ready: boolean; restartInMs: number | null }];
  scrape: [id: number];
}

export class ChildSlot extends EventEmitter<ChildSlotEvents> {
  readonly role: ChildRole;
  readonly id: number;
  #child: ChildProcess | undefined;
  #ready = false;
  /** Once a child has been ready, a death is restarted; before that it is a failed start (the supervisor's to report). */
  #everReady = false;
  #stopping = false;
  #restarts = 0;
  #failures = 0;
  #startedAt = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #reloads: Array<(o: ReloadOutcome) => void> = [];
  readonly #collects = new Map<number, (m: MetricsJson) => void>();
  readonly #options: ChildSlotOptions;

  constructor(options: ChildSlotOptions) {
    super();
    this.role = options.role;
    this.id = options.id;
    this.#options = options;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get ready(): boolean {
    return this.#ready;
  }

  get restarts(): number {
    return this.#restarts;
  }

  spawn(): void {
    const o = this.#options;
    const args = o.role === 'keeper' ? ['keeper'] : ['worker', String(o.id)];
    const doFork = (): ChildProcess => fork(o.entry, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc', ...o.extraFds], serialization: 'json' });
    const child = o.aroundFork ? o.aroundFork(doFork) : doFork();
    this.#child = child;
    this.#ready = false;
    this.#startedAt = performance.now();
    child.on('message', (m: ChildMessage) => this.#onMessage(m));
    // A send to a child that just died fails with EPIPE; its 'exit' follows and says the rest.
    child.on('error', () => undefined);
    child.once('exit', (code, signal) => this.#onExit(child, code, signal));
    this.send(o.startMessage());
  }

  send(message: ParentMessage): void {
    const child = this.#child;
    if (child?.connected) child.send(message, (err) => void err);
  }

  /** Sends the new config; resolves with the child's outcome (a child that dies meanwhile answers not ok). */
  reload(message: Extract<ParentMessage, { type: 'reload' }>): Promise<ReloadOutcome> {
    if (!this.#ready) return Promise.resolve({ ok: true, changed: [], restartNeeded: [] });
    return new Promise((resolve) => {
      this.#reloads.push(resolve);
      this.send(message);
    });
  }

  /** This child's registry as JSON, or [] when it does not answer in time. */
  collect(id: number, timeoutMs: number): Promise<MetricsJson> {
    if (!this.#ready) return Promise.resolve([]);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#collects.delete(id);
        resolve([]);
      }, timeoutMs);
      this.#collects.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      this.send({ type: 'collect', id });
    });
  }

  /** Asks the child to drain and waits for it to exit; kills it after `timeoutMs`. No restart after this. */
  async stop(reason: string, timeoutMs: number): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    this.send({ type: 'drain', reason });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  /** Kills without a drain (start-up failed elsewhere). */
  kill(): void {
    this.#stopping = true;
    clearTimeout(this.#timer);
    this.#child?.kill('SIGKILL');
  }

  #onMessage(m: ChildMessage): void {
    switch (m.type) {
      case 'ready':
        this.#ready = true;
        this.#everReady = true;
        this.emit('ready', m);
        return;
      case 'reloaded':
        this.#reloads.shift()?.(m.outcome);
        return;
      case 'collected': {
        const done = this.#collects.get(m.id);
        this.#collects.delete(m.id);
        done?.(m.metrics);
        return;
      }
      case 'scrape':
        this.emit('scrape', m.id);
        return;
    }
  }

  #onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#child !== child) return;
    const wasReady = this.#ready;
    this.#ready = false;
    for (const r of this.#reloads.splice(0)) r({ ok: false, error: `${this.role} exited` });
    for (const done of this.#collects.values()) done([]);
    this.#collects.clear();
    let restartInMs: number | null = null;
    if (!this.#stopping && this.#everReady) {
      if (performance.now() - this.#startedAt > STABLE_MS) this.#failures = 0;
      const min = this.role === 'keeper' ? KEEPER_RESTART_MIN_MS : RESTART_MIN_MS;
      restartInMs = Math.min(RESTART_MAX_MS, min * 2 ** this.#failures);
      this.#failures++;
      this.#timer = setTimeout(() => {
        this.#restarts++;
        this.spawn();
      }, restartInMs);
    }
    this.emit('exit', { code, signal, ready: wasReady, restartInMs });
  }
}

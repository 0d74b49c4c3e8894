// CPU a contender's processes spent on the cold modes' requests, from the scheduler's
// nanosecond clock (processTreeRunMsByProcess), read around each request, batch or burst
// while it is in flight, and around the whole mode (its idle gaps too: a pool's refreshes,
// the replacements a keeper opens after the responses went out).

/** Per process (`main`, `keeper`, `worker 1`…), ms per request. */
export type ByProcess = Record<string, number>;

export interface CpuPerRequest {
  /** Requests the windows covered. */
  readonly requests: number;
  /** All the contender's processes while its requests were in flight, ms per request. */
  readonly inFlightMs: number;
  readonly inFlightByProcess: ByProcess;
  /** From the mode's first request to its last response, idle gaps included, ms per request (undefined: not read). */
  readonly wholeModeMs: number | undefined;
  readonly wholeModeByProcess: ByProcess | undefined;
}

/**
 * after − before per process, for the processes read both times (one that started or
 * ended in between is left out: its share is unknown). Never negative.
 */
export function diffByProcess(before: Readonly<Record<string, number>>, after: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const b = before[k];
    if (b !== undefined) out[k] = Math.max(0, v - b);
  }
  return out;
}

function addInto(into: Record<string, number>, add: Readonly<Record<string, number>>): void {
  for (const [k, v] of Object.entries(add)) into[k] = (into[k] ?? 0) + v;
}

function perRequest(total: Readonly<Record<string, number>>, requests: number): { sum: number; by: ByProcess } {
  const by: ByProcess = {};
  let sum = 0;
  for (const [k, v] of Object.entries(total)) {
    by[k] = v / requests;
    sum += v;
  }
  return { sum: sum / requests, by };
}

/** One contender's windows in one mode. */
export class CpuWindows {
  readonly #read: (() => Record<string, number> | undefined) | undefined;
  readonly #inFlight: Record<string, number> = {};
  #requests = 0;
  #unread = false;
  #modeStart: Record<string, number> | undefined;
  #whole: Record<string, number> | undefined;

  constructor(read: (() => Record<string, number> | undefined) | undefined) {
    this.#read = read;
  }

  /** Runs `fn` (which sends `requests` requests and waits for their answers) between two reads. */
  async around<T>(requests: number, fn: () => Promise<T>): Promise<T> {
    if (this.#read === undefined) return fn();
    const before = this.#read();
    const result = await fn();
    const after = this.#read();
    if (before === undefined || after === undefined) this.#unread = true;
    else {
      addInto(this.#inFlight, diffByProcess(before, after));
      this.#requests += requests;
    }
    return result;
  }

  modeStarted(): void {
    this.#modeStart = this.#read?.();
  }

  modeEnded(): void {
    const end = this.#read?.();
    if (this.#modeStart !== undefined && end !== undefined) this.#whole = diffByProcess(this.#modeStart, end);
  }

  /** Undefined when nothing could be read (a contender without a reader, or a window it failed in). */
  summary(): CpuPerRequest | undefined {
    if (this.#unread || this.#requests === 0) return undefined;
    const inFlight = perRequest(this.#inFlight, this.#requests);
    const whole = this.#whole === undefined ? undefined : perRequest(this.#whole, this.#requests);
    return { requests: this.#requests, inFlightMs: inFlight.sum, inFlightByProcess: inFlight.by, wholeModeMs: whole?.sum, wholeModeByProcess: whole?.by };
  }
}

/** "synpool 0.62 / 1.10 (worker 1 0.45 / 0.60, keeper 0.15 / 0.48, main 0.02 / 0.02)": in flight / whole mode, ms per request. */
export function cpuLine(contender: string, c: CpuPerRequest): string {
  const f = (x: number | undefined): string => (x === undefined ? '–' : x.toFixed(2));
  const names = Object.keys(c.inFlightByProcess);
  const parts = names.length > 1
    ? ` (${names
        .sort((a, b) => (c.inFlightByProcess[b] ?? 0) - (c.inFlightByProcess[a] ?? 0))
        .map((n) => `${n} ${f(c.inFlightByProcess[n])} / ${f(c.wholeModeByProcess?.[n])}`)
        .join(', ')})`
    : '';
  return `${contender} ${f(c.inFlightMs)} / ${f(c.wholeModeMs)}${parts}`;
}

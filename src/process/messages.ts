// What the supervisor and its children (the keeper, the workers) say to each other
// over Node's IPC channel. Plain JSON data: the config travels already validated.
import type { Registry } from 'prom-client';
import type { SynpoolConfig } from '../config/schema.js';
import type { ReloadOutcome } from '../cli.js';

/** What registry.getMetricsAsJSON() gives (prom-client does not export the type). */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

export type ChildRole = 'keeper' | 'worker';

/** The first message a child gets: who it is and what to serve. */
export interface StartMessage {
  readonly type: 'start';
  readonly role: ChildRole;
  /** 1-based; the keeper's is 0. */
  readonly id: number;
  readonly config: SynpoolConfig;
  /** The keeper's Unix socket (the keeper binds it, the workers connect to it). */
  readonly keeperSocket: string;
  /** The keeper: the file mode of its socket. */
  readonly socketMode: number;
  /** Workers: refuse to serve as root (the supervisor became a user). */
  readonly expectNonRoot: boolean;
  /** Workers: the fd numbers their inherited listeners have (stdio positions). */
  readonly listenFd?: number;
  readonly metricsFd?: number;
  /** The keeper: fd numbers of the eBPF socket filters the supervisor loaded as root (socket-filters.ts), when it could. */
  readonly filterProgramFds?: { readonly dropAll: number; readonly dropSyn: number };
}

export type ParentMessage =
  | StartMessage
  | { readonly type: 'reload'; readonly config: SynpoolConfig }
  | { readonly type: 'drain'; readonly reason: string }
  /** Send your registry's metrics (for the aggregate one worker's /metrics answers with). */
  | { readonly type: 'collect'; readonly id: number }
  | { readonly type: 'metrics'; readonly id: number; readonly text: string };

export type ChildMessage =
  | { readonly type: 'ready'; readonly listen?: string; readonly metrics?: string | null; readonly accelerated?: boolean }
  | { readonly type: 'reloaded'; readonly outcome: ReloadOutcome }
  | { readonly type: 'collected'; readonly id: number; readonly metrics: MetricsJson }
  /** A worker's /metrics was scraped: it asks for the aggregate over every process. */
  | { readonly type: 'scrape'; readonly id: number };

// The shape of a test topology: two network namespaces joined by a link that
// may add delay. Built by createTopology().
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import type { CommandResult, RunOptions } from './run-command.js';

export type Side = 'client' | 'server';

/** 'vde': userspace delay line (vde_switch + wirefilter); 'netem': veth + tc netem; 'veth': veth, no delay. */
export type LinkKind = 'vde' | 'netem' | 'veth';

/**
 * The addresses between the namespaces: 'v4' (default) a 10.x /24; 'dual' that
 * and an IPv6 ULA /64 (fd00:…::1 and ::2); 'v6' the ULA only, no IPv4 address
 * or route between the namespaces.
 */
export type IpMode = 'v4' | 'dual' | 'v6';

export interface TopologyOptions {
  /** Delay added in each direction, ms; the round trip is twice this. */
  oneWayDelayMs: number;
  /** 'auto' (default): netem where the kernel has it, else vde. */
  link?: 'auto' | LinkKind;
  /** First part of every name (namespaces, directory); default 'synpool'. */
  prefix?: string;
  /** Default 'v4'. */
  ip?: IpMode;
}

export interface Topology {
  readonly name: string;
  readonly clientNs: string;
  readonly serverNs: string;
  /**
   * The client side's main address: the 10.x IPv4 one, or with ip 'v6' the
   * IPv6 one (so servers started at serverAddr listen on IPv6). Such
   * addresses exist only inside these namespaces.
   */
  readonly clientAddr: string;
  readonly serverAddr: string;
  readonly ipMode: IpMode;
  /** The ULA addresses (fd00:a:b::1 and ::2, canonical) with ip 'dual' or 'v6'; undefined with 'v4'. */
  readonly clientAddr6: string | undefined;
  readonly serverAddr6: string | undefined;
  readonly oneWayDelayMs: number;
  /** The link actually built ('auto' resolved). */
  readonly link: LinkKind;
  /** Fastest of a few TCP connects client → server at setup, ms: about one round trip. */
  readonly measuredRttMs: number;
  /** A directory the topology owns (servers put their files here); removed by destroy(). */
  readonly dir: string;

  /** /var/run/netns/NAME, for setns() (see enterNamespace). */
  netnsPath(side: Side): string;
  /** Runs a command to completion inside a namespace (default deadline 10 s). */
  exec(side: Side, cmd: string, args: readonly string[], opts?: RunOptions): Promise<CommandResult>;
  /** Starts a command inside a namespace; destroy() stops it if it still runs. */
  spawn(side: Side, cmd: string, args: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** Pids of the link's own processes (two vde_switch, one wirefilter); empty for veth and netem. */
  helperPids(): number[];
  /** Stops every process of the topology and deletes its namespaces; idempotent. */
  destroy(): Promise<void>;
}

/** What a link builder hands back. */
export interface LinkHandle {
  readonly kind: LinkKind;
  helperPids(): number[];
  stop(): Promise<void>;
}

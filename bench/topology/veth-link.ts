// A veth pair with one end in each namespace, optionally with netem delay on
// both ends (each end delays what it sends: one-way delay per direction).
import { isOnPath, type CommandResult, type RunOptions } from './run-command.js';
import type { LinkHandle, Side } from './topology.js';

export interface VethLinkContext {
  clientNs: string;
  serverNs: string;
  oneWayDelayMs: number;
  netem: boolean;
  ifName(side: Side): string;
  host(cmd: string, args: readonly string[]): Promise<CommandResult>;
  exec(side: Side, cmd: string, args: readonly string[], opts?: RunOptions): Promise<CommandResult>;
}

export async function buildVethLink(ctx: VethLinkContext): Promise<LinkHandle> {
  // Created directly in the namespaces: the names never exist in the host namespace.
  await ctx.host('ip', [
    'link', 'add', ctx.ifName('client'), 'netns', ctx.clientNs, 'type', 'veth',
    'peer', 'name', ctx.ifName('server'), 'netns', ctx.serverNs,
  ]);
  for (const side of ['client', 'server'] as const) {
    // veth hands the peer packets with CHECKSUM_PARTIAL: a raw socket reading
    // them sees unfinished checksums. Without ethtool, leave it (parsers here do not verify).
    if (isOnPath('ethtool')) await ctx.exec(side, 'ethtool', ['-K', ctx.ifName(side), 'tx', 'off'], { allowFailure: true });
    if (ctx.netem) {
      await ctx.exec(side, 'tc', ['qdisc', 'add', 'dev', ctx.ifName(side), 'root', 'netem', 'delay', `${ctx.oneWayDelayMs}ms`]);
    }
  }
  return {
    kind: ctx.netem ? 'netem' : 'veth',
    helperPids: () => [],
    // Deleting the namespaces deletes the pair.
    stop: async () => {},
  };
}

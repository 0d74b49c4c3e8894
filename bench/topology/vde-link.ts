// The userspace delay line for kernels without sch_netem:
//
//   client ns: tap ── vde_switch ── wirefilter -d MS ── vde_switch ── tap :server ns
//
// wirefilter plugs into both switches itself (`-v SW1:SW2`), over the
// switches' datagram sockets. The usual `dpipe vde_plug = wirefilter =
// vde_plug` joins them with pipes instead, and those deadlock under bulk
// traffic in both directions at once (a 10 MB upload echoed back stalls the
// link for good, every time); datagrams are dropped when a queue is full,
// like a real link, and TCP recovers.
//
// Each vde_switch runs inside its namespace (`ip netns exec`), so its tap is
// created there and never appears in the host namespace. The switches and
// wirefilter run in the foreground with stdin a pipe from us: vde_switch exits
// on EOF on stdin, so the link dies with this process even when it is SIGKILLed.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { captureStderr, describeExit, hasExited, stopChild, waitForExit } from './child-output.js';
import type { CommandResult } from './run-command.js';
import { TopologyError } from './topology-error.js';
import type { LinkHandle, Side } from './topology.js';

export interface VdeLinkContext {
  dir: string;
  oneWayDelayMs: number;
  ifName(side: Side): string;
  spawnTracked(side: Side, cmd: string, args: readonly string[], group: boolean): ChildProcess;
  exec(side: Side, cmd: string, args: readonly string[]): Promise<CommandResult>;
}

const SWITCH_READY_TIMEOUT_MS = 5_000;
const POLL_MS = 20;

export async function buildVdeLink(ctx: VdeLinkContext): Promise<LinkHandle> {
  if (!Number.isInteger(ctx.oneWayDelayMs)) {
    throw new TopologyError('TOPOLOGY_ERR_PREREQUISITE', `wirefilter takes whole milliseconds; got oneWayDelayMs ${ctx.oneWayDelayMs}`);
  }
  const sockDir = (side: Side): string => join(ctx.dir, `vde-${side}`);
  const switches: ChildProcess[] = [];
  let filter: ChildProcess | undefined;

  const handle: LinkHandle = {
    kind: 'vde',
    helperPids() {
      return [...switches, ...(filter ? [filter] : [])].flatMap((c) => (c.pid === undefined ? [] : [c.pid]));
    },
    async stop() {
      if (filter !== undefined) await stopChild(filter, 1_000);
      // EOF on stdin is vde_switch's clean exit: it removes its control directory.
      for (const sw of switches) sw.stdin?.end();
      await Promise.all(
        switches.map(async (sw) => {
          if (!(await waitForExit(sw, 2_000))) await stopChild(sw, 1_000);
        }),
      );
    },
  };

  try {
    for (const side of ['client', 'server'] as const) {
      const sw = ctx.spawnTracked(side, 'vde_switch', ['-t', ctx.ifName(side), '-s', sockDir(side)], false);
      switches.push(sw);
      captureStderr(sw);
    }
    await Promise.all((['client', 'server'] as const).map((side, i) => waitForSwitch(ctx, side, switches[i]!, sockDir(side))));

    const delay = ctx.oneWayDelayMs > 0 ? ['-d', String(ctx.oneWayDelayMs)] : [];
    // In the client namespace only so that `ip netns pids` finds it too; it talks to the switches over unix sockets.
    filter = ctx.spawnTracked('client', 'wirefilter', ['-v', `${sockDir('client')}:${sockDir('server')}`, ...delay], false);
    captureStderr(filter);
    // Give it a moment to plug in; a line that never passes traffic is caught by the connectivity check.
    await sleep(50);
    if (hasExited(filter)) throw new TopologyError('TOPOLOGY_ERR_COMMAND', `wirefilter -v ${describeExit(filter)}`);
    return handle;
  } catch (err) {
    await handle.stop();
    throw err;
  }
}

async function waitForSwitch(ctx: VdeLinkContext, side: Side, sw: ChildProcess, dir: string): Promise<void> {
  const deadline = Date.now() + SWITCH_READY_TIMEOUT_MS;
  for (;;) {
    if (hasExited(sw)) throw new TopologyError('TOPOLOGY_ERR_COMMAND', `vde_switch (${side}) ${describeExit(sw)}`);
    if (existsSync(join(dir, 'ctl'))) {
      try {
        await ctx.exec(side, 'ip', ['link', 'show', 'dev', ctx.ifName(side)]);
        return;
      } catch {
        // tap not there yet
      }
    }
    if (Date.now() > deadline) {
      throw new TopologyError('TOPOLOGY_ERR_COMMAND', `vde_switch (${side}) did not create ${dir}/ctl and tap ${ctx.ifName(side)} within ${SWITCH_READY_TIMEOUT_MS} ms`);
    }
    await sleep(POLL_MS);
  }
}

// The userspace delay line for kernels without sch_netem:
//
//   client ns: tap ── vde_switch ─┐                         ┌─ vde_switch ── tap :server ns
//                                 └ dpipe vde_plug = wirefilter -d MS = vde_plug ┘
//
// Each vde_switch runs inside its namespace (`ip netns exec`), so its tap is
// created there and never appears in the host namespace. The switches run in
// the foreground with stdin a pipe from us: vde_switch exits on EOF on stdin,
// so they die with this process even when it is SIGKILLed, and their taps with
// them. dpipe puts itself and its children in a new process group; it is
// stopped through its children (it reaps them and exits), SIGKILL to the group as fallback.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { captureStderr, describeExit, hasExited, stopChild, waitForExit } from './child-output.js';
import { isProcessAlive, processGroupMembers, signalQuietly } from './process-table.js';
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
  let dpipe: ChildProcess | undefined;
  let groupSeen: number[] = [];

  const handle: LinkHandle = {
    kind: 'vde',
    helperPids() {
      const pids = new Set<number>(groupSeen);
      for (const c of [...switches, ...(dpipe ? [dpipe] : [])]) if (c.pid !== undefined) pids.add(c.pid);
      if (dpipe?.pid !== undefined) for (const p of processGroupMembers(dpipe.pid)) pids.add(p);
      return [...pids];
    },
    async stop() {
      if (dpipe?.pid !== undefined) {
        const pgid = dpipe.pid;
        groupSeen = [...new Set([...groupSeen, ...processGroupMembers(pgid)])];
        // Children first: dpipe reaps them and exits by itself. Killing dpipe
        // first orphans them to pid 1, which here leaves them as zombies a while.
        for (const p of groupSeen) if (p !== pgid) signalQuietly(p, 'SIGTERM');
        if (!(await waitForExit(dpipe, 2_000))) {
          signalQuietly(-pgid, 'SIGKILL');
          dpipe.kill('SIGKILL');
          await waitForExit(dpipe, 2_000);
        }
      }
      // EOF on stdin is vde_switch's clean exit: it removes its control directory.
      for (const sw of switches) sw.stdin?.end();
      await Promise.all(
        switches.map(async (sw) => {
          if (!(await waitForExit(sw, 2_000))) await stopChild(sw, 1_000);
        }),
      );
      // wirefilter and vde_plug are dpipe's children, not ours: wait until they are gone.
      const deadline = Date.now() + 2_000;
      while (groupSeen.some((p) => isProcessAlive(p)) && Date.now() < deadline) await sleep(POLL_MS);
      for (const p of groupSeen) if (isProcessAlive(p)) signalQuietly(p, 'SIGKILL');
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
    // dpipe runs inside the client namespace only so that `ip netns pids` finds
    // it too; vde_plug talks to the switches over unix sockets.
    dpipe = ctx.spawnTracked('client', 'dpipe', ['vde_plug', sockDir('client'), '=', 'wirefilter', ...delay, '=', 'vde_plug', sockDir('server')], true);
    captureStderr(dpipe);
    // Give dpipe a moment to fork; a line that never passes traffic is caught by the connectivity check.
    await sleep(50);
    if (hasExited(dpipe)) throw new TopologyError('TOPOLOGY_ERR_COMMAND', `dpipe (vde_plug = wirefilter = vde_plug) ${describeExit(dpipe)}`);
    groupSeen = processGroupMembers(dpipe.pid!);
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

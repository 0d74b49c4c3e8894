// A topology that exists: its namespaces, the processes started in them, its
// link, and the on-disk state that lets a later process clean up after us.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { registerForExitTeardown } from './exit-hooks.js';
import { stopChild } from './child-output.js';
import { processStartTicks } from './process-table.js';
import { runCommand, type CommandResult, type RunOptions } from './run-command.js';
import { TopologyError } from './topology-error.js';
import type { TopologyNames } from './topology-names.js';
import {
  namespaceExistsSync,
  netnsPath,
  stateDir,
  teardownSync,
  writeState,
  type TopologyState,
  type TrackedProcess,
} from './topology-state.js';
import type { IpMode, LinkHandle, LinkKind, Side, Topology } from './topology.js';

/** How long a process started with spawn() gets between SIGTERM and SIGKILL at destroy(). */
const CHILD_GRACE_MS = 2_000;

export class LiveTopology implements Topology {
  readonly name: string;
  readonly clientNs: string;
  readonly serverNs: string;
  readonly clientAddr: string;
  readonly serverAddr: string;
  readonly ipMode: IpMode;
  readonly clientAddr6: string | undefined;
  readonly serverAddr6: string | undefined;
  readonly oneWayDelayMs: number;
  readonly dir: string;
  link: LinkKind = 'veth';
  measuredRttMs = Number.NaN;

  readonly names: TopologyNames;
  private readonly state: TopologyState;
  private readonly children = new Set<ChildProcess>();
  /** Children the link started; the link stops them in its own order. */
  private readonly linkChildren = new Set<ChildProcess>();
  private linkHandle: LinkHandle | undefined;
  private destroying: Promise<void> | undefined;
  private readonly unregister: () => void;

  constructor(names: TopologyNames, oneWayDelayMs: number, ip: IpMode = 'v4') {
    this.names = names;
    this.name = names.name;
    this.clientNs = names.clientNs;
    this.serverNs = names.serverNs;
    this.ipMode = ip;
    this.clientAddr6 = ip === 'v4' ? undefined : names.clientAddr6;
    this.serverAddr6 = ip === 'v4' ? undefined : names.serverAddr6;
    this.clientAddr = ip === 'v6' ? names.clientAddr6 : names.clientAddr;
    this.serverAddr = ip === 'v6' ? names.serverAddr6 : names.serverAddr;
    this.oneWayDelayMs = oneWayDelayMs;
    this.dir = stateDir(names.name);
    const ownerStartTicks = processStartTicks(process.pid) ?? 0;
    this.state = {
      name: names.name,
      ownerPid: process.pid,
      ownerStartTicks,
      namespaces: [names.clientNs, names.serverNs],
      processes: [],
      dir: this.dir,
    };
    // State first, namespaces second: whatever exists is always on record.
    writeState(this.state);
    this.unregister = registerForExitTeardown(names.name, () => this.state);
  }

  async createNamespaces(): Promise<void> {
    for (const ns of [this.clientNs, this.serverNs]) {
      await runCommand('ip', ['netns', 'add', ns]);
      await runCommand('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
  }

  attachLink(handle: LinkHandle): void {
    this.linkHandle = handle;
    this.link = handle.kind;
  }

  ns(side: Side): string {
    return side === 'client' ? this.clientNs : this.serverNs;
  }

  netnsPath(side: Side): string {
    return netnsPath(this.ns(side));
  }

  /** `ip -n NS ARGS…`: cheaper than `ip netns exec NS ip …` (no mount namespace). */
  ip(side: Side, args: readonly string[]): Promise<CommandResult> {
    return runCommand('ip', ['-n', this.ns(side), ...args]);
  }

  exec(side: Side, cmd: string, args: readonly string[], opts?: RunOptions): Promise<CommandResult> {
    this.assertUsable();
    return runCommand('ip', ['netns', 'exec', this.ns(side), cmd, ...args], opts);
  }

  spawn(side: Side, cmd: string, args: readonly string[], opts?: SpawnOptions): ChildProcess {
    return this.spawnTracked(side, cmd, args, opts ?? {}, false);
  }

  /** spawn() for the link: `group` children are signalled as a process group at teardown. */
  spawnForLink(side: Side, cmd: string, args: readonly string[], group: boolean): ChildProcess {
    // stdin is a pipe held open by us: vde_switch exits on EOF, so it dies with this process.
    const child = this.spawnTracked(side, cmd, args, { stdio: ['pipe', 'ignore', 'pipe'] }, group);
    this.linkChildren.add(child);
    return child;
  }

  helperPids(): number[] {
    return this.linkHandle?.helperPids() ?? [];
  }

  destroy(): Promise<void> {
    this.destroying ??= this.teardown();
    return this.destroying;
  }

  private spawnTracked(side: Side, cmd: string, args: readonly string[], opts: SpawnOptions, group: boolean): ChildProcess {
    this.assertUsable();
    // `ip netns exec` execs the command: the child's pid is the command's pid.
    const child = spawn('ip', ['netns', 'exec', this.ns(side), cmd, ...args], opts);
    // A failed spawn still emits 'exit'/'close'; without a listener 'error' would throw.
    child.on('error', () => {});
    this.children.add(child);
    const pid = child.pid;
    if (pid !== undefined) {
      const record: TrackedProcess = { pid, startTicks: processStartTicks(pid) ?? 0, group, label: `${cmd} (${side})` };
      this.state.processes.push(record);
      writeState(this.state);
      child.once('exit', () => {
        this.children.delete(child);
        this.state.processes = this.state.processes.filter((p) => p !== record);
        if (!this.destroying) writeState(this.state);
      });
    }
    return child;
  }

  private assertUsable(): void {
    if (this.destroying) throw new TopologyError('TOPOLOGY_ERR_DESTROYED', `topology ${this.name} has been destroyed`);
  }

  private async teardown(): Promise<void> {
    try {
      const own = [...this.children].filter((c) => !this.linkChildren.has(c));
      await Promise.all(own.map((c) => stopChild(c, CHILD_GRACE_MS)));
      await this.linkHandle?.stop();
    } finally {
      // Backstop, also for a failed graceful stop: SIGKILL whatever is left in
      // the namespaces, delete them, remove the directory.
      teardownSync(this.state);
      this.unregister();
    }
    const left = this.state.namespaces.filter(namespaceExistsSync);
    if (left.length > 0) {
      throw new TopologyError('TOPOLOGY_ERR_COMMAND', `topology ${this.name}: could not delete namespace(s) ${left.join(', ')}`);
    }
  }
}

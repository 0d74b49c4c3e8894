// Removes what topologies of dead processes left behind: their processes,
// namespaces and directories. Cheap when there is nothing to do; createTopology
// calls it first.
import { readdirSync } from 'node:fs';
import { isProcessAlive } from './process-table.js';
import { readAllStates, teardownSync, type TopologyState } from './topology-state.js';

/** Namespaces named by the default prefix: `synpool-<pid>-<counter>-<side>`. */
const DEFAULT_NS_PATTERN = /^synpool-(\d+)-(\d+)-(client|server)$/;

export interface SweepReport {
  /** Names of the topologies (or bare namespaces) removed. */
  removed: string[];
}

export function sweepStaleTopologies(): SweepReport {
  const removed: string[] = [];
  const known = new Set<string>();

  for (const { state, name, dir } of readAllStates()) {
    if (state) {
      for (const ns of state.namespaces) known.add(ns);
      if (isProcessAlive(state.ownerPid, state.ownerStartTicks)) continue;
      teardownSync(state);
      removed.push(name);
    } else if (!ownerPidFromName(name) || !isProcessAlive(ownerPidFromName(name)!)) {
      // No readable state (the owner died while writing it): the name still says who owned it.
      const broken: TopologyState = {
        name,
        dir,
        ownerPid: 0,
        ownerStartTicks: 0,
        namespaces: [`${name}-client`, `${name}-server`],
        processes: [],
      };
      teardownSync(broken);
      removed.push(name);
    }
  }

  // Namespaces whose state directory is gone altogether.
  let namespaces: string[] = [];
  try {
    namespaces = readdirSync('/var/run/netns');
  } catch {
    // no namespaces at all
  }
  for (const ns of namespaces) {
    if (known.has(ns)) continue;
    const m = DEFAULT_NS_PATTERN.exec(ns);
    if (!m || isProcessAlive(Number(m[1]))) continue;
    teardownSync({ name: ns, dir: '', ownerPid: 0, ownerStartTicks: 0, namespaces: [ns], processes: [] });
    removed.push(ns);
  }
  return { removed };
}

/** `<prefix>-<pid>-<counter>` → pid. */
function ownerPidFromName(name: string): number | undefined {
  const m = /-(\d+)-\d+$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

export { createTopology } from './create-topology.js';
export { enterNamespace } from './enter-namespace.js';
export { sweepStaleTopologies, type SweepReport } from './sweep-stale-topologies.js';
export { probeConnect, type ConnectProbeOptions, type NamespaceSpawner } from './connect-probe.js';
export { TopologyError, type TopologyErrorCode } from './topology-error.js';
export type { IpMode, LinkKind, Side, Topology, TopologyOptions } from './topology.js';
export type { CommandResult, RunOptions } from './run-command.js';

// The errors the test topology raises. Kept apart from src/errors.ts: they
// belong to the bench harness, not to the proxy's public error registry.

export type TopologyErrorCode =
  | 'TOPOLOGY_ERR_PREREQUISITE' // a tool, a capability or a kernel feature is missing
  | 'TOPOLOGY_ERR_COMMAND' // a setup command failed or timed out
  | 'TOPOLOGY_ERR_NO_TRAFFIC' // the link was built but passes no traffic
  | 'TOPOLOGY_ERR_NOT_READY' // a server never accepted connections
  | 'TOPOLOGY_ERR_DESTROYED'; // the topology was used after destroy()

export class TopologyError extends Error {
  readonly code: TopologyErrorCode;

  constructor(code: TopologyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TopologyError';
    this.code = code;
  }
}

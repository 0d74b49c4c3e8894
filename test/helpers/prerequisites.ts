// Integration tests run for real or fail: no silent skip. A missing tool or
// privilege is named in the failure so the fix is obvious.
import { isOnPath } from '../../bench/topology/run-command.js';

export function assertIntegrationPrerequisites(tools: readonly string[] = ['ip', 'vde_switch', 'vde_plug', 'wirefilter', 'dpipe']): void {
  const missing = [...(process.getuid?.() === 0 ? [] : ['root (CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN)']), ...tools.filter((t) => !isOnPath(t))];
  if (missing.length > 0) {
    throw new Error(`integration prerequisites missing: ${missing.join(', ')} (run as root; .ci/run installs the tools)`);
  }
}

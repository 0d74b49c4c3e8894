// Integration tests run for real or fail: no silent skip. A missing tool or
// privilege is named in the failure so the fix is obvious.
import { isOnPath } from '../../bench/topology/run-command.js';

/** The topology's own tools (ip, the vde2 delay line) are always checked; pass what else a test uses. */
export function assertIntegrationPrerequisites(extra: readonly string[] = []): void {
  const tools = ['ip', 'vde_switch', 'wirefilter', ...extra];
  const missing = [...(process.getuid?.() === 0 ? [] : ['root (CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN)']), ...tools.filter((t) => !isOnPath(t))];
  if (missing.length > 0) {
    throw new Error(`integration prerequisites missing: ${missing.join(', ')} (run as root; .ci/run installs the tools)`);
  }
}

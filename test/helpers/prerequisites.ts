// One policy for every test that needs something from the machine: it runs for
// real or fails, never skips, and the failure names what is missing so the fix
// is obvious (scripts/ensure-system-packages.sh installs all of it; .ci/run and
// the npm pretest hook call that script).
import { existsSync } from 'node:fs';
import { isOnPath, whichSync } from '../../bench/topology/run-command.js';

const ROOT = 'root (CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN)';

/** What of root and `tools` this machine lacks; empty when everything is there. */
export function missingPrerequisites(tools: readonly string[], needRoot = true): string[] {
  return [...(needRoot && process.getuid?.() !== 0 ? [ROOT] : []), ...tools.filter((t) => !isOnPath(t))];
}

/** The topology's own tools (ip, the vde2 delay line) are always checked; pass what else a test uses. */
export function assertIntegrationPrerequisites(extra: readonly string[] = []): void {
  const missing = missingPrerequisites(['ip', 'vde_switch', 'wirefilter', ...extra]);
  if (missing.length > 0) {
    throw new Error(`integration prerequisites missing: ${missing.join(', ')} (run as root; scripts/ensure-system-packages.sh installs the tools)`);
  }
}

/** A C compiler and the kernel/libc headers, for the native-ABI test (Debian: gcc, libc6-dev, linux-libc-dev). */
export function assertCCompiler(headers: readonly string[]): void {
  const missing = missingPrerequisites(['cc'], false).map(() => 'a C compiler (cc; Debian package gcc)');
  // Compiling would fail on these too, but with a less direct message.
  for (const h of headers) if (!existsSync(`/usr/include/${h}`)) missing.push(`/usr/include/${h} (Debian packages libc6-dev, linux-libc-dev)`);
  if (missing.length > 0) {
    throw new Error(`native-ABI test prerequisites missing: ${missing.join(', ')} (scripts/ensure-system-packages.sh installs them)`);
  }
}


/** systemd-analyze, for the unit-file test (Debian package systemd). Fails, never skips, in CI or not. */
export function assertSystemdAnalyze(): string {
  const path = whichSync('systemd-analyze');
  if (path === undefined) {
    throw new Error('deploy test prerequisite missing: systemd-analyze (Debian package systemd; scripts/ensure-system-packages.sh installs it)');
  }
  return path;
}

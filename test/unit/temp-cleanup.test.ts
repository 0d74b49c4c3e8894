// The tests that write temp files remove them. Runs those files in a child
// vitest whose TMPDIR is a fresh folder (other runs on this machine share /tmp,
// so counting there would race), then asserts no synpool-* entry is left.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// Every test file that calls mkdtemp (grep mkdtemp test/).
const FILES = ['test/unit/config-schema.test.ts', 'test/unit/config-cli.test.ts', 'test/unit/native-abi.test.ts', 'test/unit/deploy-systemd.test.ts', 'test/integration/https-connector.test.ts'];

it('the config, native-ABI, systemd-unit and TLS-connector tests leave no synpool-* entry in the temp folder', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'synpool-tmpcheck-'));
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', ...FILES], {
      cwd: ROOT,
      env: { ...process.env, TMPDIR: tmp },
      stdio: 'pipe',
      timeout: 50_000,
    });
    // os.tmpdir() follows TMPDIR: before the cleanup, synpool-config-* folders were left here.
    expect(readdirSync(tmp).filter((e) => e.startsWith('synpool-'))).toEqual([]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}, 60_000);

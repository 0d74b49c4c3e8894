// The check the supervisor makes before it gives up root, over real files.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { unreadableAt } from '../../src/process/readable-by.js';

const root = mkdtempSync(join(tmpdir(), 'synpool-readable-'));
chmodSync(root, 0o755);
afterAll(() => rmSync(root, { recursive: true, force: true }));
const nobody = { uid: 65534, gid: 65534 };

describe('unreadableAt', () => {
  it('is undefined when every directory can be passed and the file read', () => {
    const dir = join(root, 'open');
    mkdirSync(dir, { mode: 0o755 });
    writeFileSync(join(dir, 'f.js'), '', { mode: 0o644 });
    expect(unreadableAt(join(dir, 'f.js'), nobody)).toBeUndefined();
  });

  it('names the first directory the user may not pass', () => {
    const dir = join(root, 'closed');
    mkdirSync(join(dir, 'inner'), { recursive: true });
    chmodSync(dir, 0o700);
    writeFileSync(join(dir, 'inner', 'f.js'), '', { mode: 0o644 });
    expect(unreadableAt(join(dir, 'inner', 'f.js'), nobody)).toBe(dir);
    // The owner may.
    expect(unreadableAt(join(dir, 'inner', 'f.js'), { uid: process.getuid!(), gid: process.getgid!() })).toBeUndefined();
  });

  it('names a file the user may not read, and one that does not exist', () => {
    const f = join(root, 'secret.js');
    writeFileSync(f, '', { mode: 0o600 });
    expect(unreadableAt(f, nobody)).toBe(f);
    expect(unreadableAt(join(root, 'missing.js'), nobody)).toBe(join(root, 'missing.js'));
  });
});

// native/ is the bottom layer: it imports nothing from src/ (or bench/), and
// its symbol table holds only the calls production makes.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SyscallError as NativeSyscallError } from '../../native/syscall-error.js';
import { SynpoolError, SyscallError } from '../../src/errors.js';

const nativeDir = new URL('../../native/', import.meta.url);
const files = readdirSync(nativeDir).filter((f) => f.endsWith('.ts'));

/** Every module specifier a file imports or re-exports (static and dynamic). */
function specifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    out.push((m[1] ?? m[2] ?? m[3])!);
  }
  return out;
}

describe('native/ is the kernel boundary', () => {
  it('the scan sees native/ files and their imports', () => {
    expect(files).toContain('libc.ts');
    expect(specifiers(readFileSync(new URL('socket-ops.ts', nativeDir), 'utf8'))).toContain('./libc.js');
  });

  it.each(files)('%s imports only from native/ or packages', (file) => {
    const text = readFileSync(new URL(file, nativeDir), 'utf8');
    const outside = specifiers(text).filter((s) => s.startsWith('.') && !s.startsWith('./'));
    expect(outside, `${file} imports from outside native/`).toEqual([]);
  });

  it('the production symbol table has no open() or setns() (the test topology has its own)', () => {
    const text = readFileSync(new URL('libc.ts', nativeDir), 'utf8');
    expect(text).not.toMatch(/\bopen\s*\(/);
    expect(text).not.toMatch(/\bsetns\b/);
  });

  it('SyscallError is native’s class, re-exported by the registry, and still a SynpoolError', () => {
    expect(SyscallError).toBe(NativeSyscallError);
    const e = new SyscallError('setns', 1, 'EPERM');
    expect(e).toBeInstanceOf(SynpoolError);
    expect(e.code).toBe('SYNPOOL_ERR_SYSCALL');
  });
});

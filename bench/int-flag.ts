/**
 * A whole-number command-line value in [lo, hi], for the benchmarks' flags. `usage`
 * makes the error (each benchmark has its own usage error, mapped to exit 2).
 */
export function intFlag(flag: string, text: string, lo: number, hi: number, usage: (message: string) => Error = (m) => new Error(m)): number {
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < lo || n > hi) throw usage(`${flag} must be an integer in ${lo}…${hi}, got ${text}`);
  return n;
}

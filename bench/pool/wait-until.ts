/** Polls `ok` every `everyMs` until it holds; resolves with the time it took, rejects (naming `what`) after `deadlineMs`. */
export async function waitUntil(what: string, ok: () => boolean | Promise<boolean>, deadlineMs: number, everyMs = 5): Promise<number> {
  const t0 = performance.now();
  const maxPolls = Math.ceil(deadlineMs / Math.max(1, everyMs)) + 2;
  for (let i = 0; i < maxPolls; i++) {
    if (await ok()) return performance.now() - t0;
    if (performance.now() - t0 > deadlineMs) break;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`${what}: not within ${deadlineMs} ms`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

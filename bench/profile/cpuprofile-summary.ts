// Self time per function (and per package/file) from a V8 .cpuprofile, the way
// docs/profiles/ reports it.
//   node dist/bench/profile/cpuprofile-summary.js FILE.cpuprofile [--top 25] [--json]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface SelfTimeRow {
  name: string;
  selfMs: number;
  share: number;
}

/** Where a frame's code lives: a package, a synpool file, node's own internals, or V8/GC. */
export function groupOf(frame: CallFrame): string {
  const url = frame.url;
  if (url === '') return frame.functionName === '' ? '(anonymous native)' : `(${frame.functionName.replace(/^\(|\)$/g, '')})`;
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1] as string;
  const src = /\/dist\/(src\/.*)$/.exec(url);
  if (src) return src[1] as string;
  if (url.startsWith('node:')) return url.replace(/^node:internal\//, 'node:').replace(/^node:/, 'node:');
  return url;
}

export function summarize(profile: CpuProfile): { totalMs: number; byFunction: SelfTimeRow[]; byGroup: SelfTimeRow[] } {
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const fn = new Map<string, number>();
  const group = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const f = (byId.get(id) as ProfileNode).callFrame;
    if (f.functionName === '(idle)') continue;
    total += us;
    const g = groupOf(f);
    const key = `${f.functionName || '(anonymous)'} ${g}${f.url === '' ? '' : `:${f.lineNumber + 1}`}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    group.set(g, (group.get(g) ?? 0) + us);
  }
  const rows = (m: Map<string, number>): SelfTimeRow[] =>
    [...m].map(([name, us]) => ({ name, selfMs: us / 1000, share: us / total })).sort((a, b) => b.selfMs - a.selfMs);
  return { totalMs: total / 1000, byFunction: rows(fn), byGroup: rows(group) };
}

function main(): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, json: { type: 'boolean', default: false } } });
  const file = positionals[0];
  if (file === undefined) throw new Error('usage: cpuprofile-summary FILE.cpuprofile');
  const s = summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
  const top = Number(values.top);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ totalMs: s.totalMs, byFunction: s.byFunction.slice(0, top), byGroup: s.byGroup.slice(0, top) })}\n`);
    return;
  }
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  process.stdout.write(`non-idle samples: ${s.totalMs.toFixed(0)} ms\n\n| self | share | group |\n|---:|---:|---|\n`);
  for (const r of s.byGroup.slice(0, top)) process.stdout.write(`| ${r.selfMs.toFixed(0)} ms | ${pct(r.share)} | ${r.name} |\n`);
  process.stdout.write(`\n| self | share | function |\n|---:|---:|---|\n`);
  for (const r of s.byFunction.slice(0, top)) process.stdout.write(`| ${r.selfMs.toFixed(0)} ms | ${pct(r.share)} | \`${r.name}\` |\n`);
}

main();

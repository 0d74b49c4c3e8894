// A small flame graph (SVG, no dependencies) from a V8 .cpuprofile: frames merged by
// name and file along each stack, width = sampled time, idle left out.
//   node dist/bench/profile/cpuprofile-flame.js FILE.cpuprofile OUT.svg [--title T] [--min-share 0.003]
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Frame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: Frame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}
interface Merged {
  name: string;
  us: number;
  children: Map<string, Merged>;
}

function label(f: Frame): string {
  const file = f.url.replace(/^.*\/node_modules\//, '').replace(/^.*\/dist\//, '').replace(/^file:\/\//, '');
  return `${f.functionName || '(anonymous)'}${file === '' ? '' : ` ${file}:${f.lineNumber + 1}`}`;
}

function build(profile: CpuProfile): Merged {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const root: Merged = { name: 'all', us: 0, children: new Map() };
  const walk = (node: ProfileNode, into: Merged): number => {
    if (node.callFrame.functionName === '(idle)') return 0;
    const key = label(node.callFrame);
    let m = into.children.get(key);
    if (m === undefined) {
      m = { name: key, us: 0, children: new Map() };
      into.children.set(key, m);
    }
    let total = self.get(node.id) ?? 0;
    for (const c of node.children ?? []) total += walk(byId.get(c) as ProfileNode, m);
    m.us += total;
    return total;
  };
  const top = profile.nodes[0] as ProfileNode;
  for (const c of top.children ?? []) root.us += walk(byId.get(c) as ProfileNode, root);
  return root;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function color(name: string): string {
  if (name.includes('src/')) return '#e8743b';
  if (name.includes('undici')) return '#5fa55a';
  if (name.includes('pino') || name.includes('prom-client')) return '#c9a227';
  if (name.includes('node:')) return '#6c8ebf';
  return '#a0a0a0';
}

function render(root: Merged, title: string, minShare: number): string {
  const width = 1200;
  const rowH = 16;
  const rects: string[] = [];
  let depthMax = 0;
  const draw = (m: Merged, x: number, depth: number): void => {
    const w = (m.us / root.us) * width;
    if (m.us / root.us < minShare) return;
    depthMax = Math.max(depthMax, depth);
    const share = ((m.us / root.us) * 100).toFixed(1);
    const text = w > 40 ? `<text x="${(x + 3).toFixed(1)}" y="${depth * rowH + 12 + 24}" font-size="10" clip-path="url(#c${rects.length})">${esc(m.name)}</text>` : '';
    rects.push(
      `<g><title>${esc(m.name)} (${share}%)</title><clipPath id="c${rects.length}"><rect x="${x.toFixed(1)}" y="${depth * rowH + 24}" width="${Math.max(0, w - 1).toFixed(1)}" height="${rowH - 1}"/></clipPath><rect x="${x.toFixed(1)}" y="${depth * rowH + 24}" width="${Math.max(0.5, w - 1).toFixed(1)}" height="${rowH - 1}" fill="${color(m.name)}"/>${text}</g>`,
    );
    let cx = x;
    for (const c of [...m.children.values()].sort((a, b) => b.us - a.us)) {
      draw(c, cx, depth + 1);
      cx += (c.us / root.us) * width;
    }
  };
  draw(root, 0, 0);
  const height = (depthMax + 1) * rowH + 30;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace">\n<text x="4" y="16" font-size="13">${esc(title)}</text>\n${rects.join('\n')}\n</svg>\n`;
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { title: { type: 'string', default: '' }, 'min-share': { type: 'string', default: '0.003' } } });
const [input, output] = positionals;
if (input === undefined || output === undefined) throw new Error('usage: cpuprofile-flame FILE.cpuprofile OUT.svg');
const root = build(JSON.parse(readFileSync(input, 'utf8')) as CpuProfile);
writeFileSync(output, render(root, values.title || input, Number(values['min-share'])));

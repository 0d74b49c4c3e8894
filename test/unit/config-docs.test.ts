// Every config key a user can read about (--help, README.md, docs/proxy.md,
// config/*) is one the schema accepts, and every key the schema accepts is
// documented. The key names are extracted from the places that list them.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { HELP } from '../../src/cli.js';
import { DEFAULTS } from '../../src/config/defaults.js';
import { CONFIG_SCHEMA, validateConfig } from '../../src/config/schema.js';
import { POOL_DEFAULTS } from '../../src/pool/pool-config.js';

const read = (rel: string): string => readFileSync(new URL(`../../${rel}`, import.meta.url), 'utf8');
const README = read('README.md');
const PROXY_DOC = read('docs/proxy.md');
const UP = 'http://10.0.0.2:8080';

interface Named {
  top: Set<string>;
  pool: Set<string>;
}
const empty = (): Named => ({ top: new Set(), pool: new Set() });

/** `pool.x` anywhere in a text (not a path like docs/pool.md, not a call like pool.snapshot()). */
function dottedPoolKeys(text: string, into: Named): void {
  for (const m of text.matchAll(/(?<![\w/.-])pool\.([A-Za-z]\w*)(?![\w(])/g)) into.pool.add(m[1]!);
}

/** The table rows that follow the header row starting with `header`. */
function tableRows(text: string, header: string): string[][] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith(header));
  expect(start, `a table headed "${header}"`).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim()));
  }
  return rows;
}

const ticks = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
/** A key-like camelCase word with a capital (`targetSize`), not a value (`demand`). */
const camel = (s: string): boolean => /^[a-z]+[A-Z]\w*$/.test(s);

function fromHelp(): Named {
  const n = empty();
  const block = HELP.slice(HELP.indexOf('Configuration file keys'), HELP.indexOf('See config/'));
  const poolAt = block.indexOf('pool {');
  for (const w of block.slice(block.indexOf('\n'), poolAt).match(/[A-Za-z]\w*/g) ?? []) n.top.add(w);
  n.top.add('pool');
  for (const w of block.slice(poolAt + 'pool {'.length, block.indexOf('}', poolAt)).match(/[A-Za-z]\w*/g) ?? []) n.pool.add(w);
  for (const m of HELP.matchAll(/\(([a-z]\w*): (?:true|false)\)/g)) n.top.add(m[1]!);
  dottedPoolKeys(HELP, n);
  return n;
}

function fromProxyDoc(): Named {
  const n = empty();
  for (const [key = '', dflt = '', allowed = ''] of tableRows(PROXY_DOC, '| key | default | allowed | flag |')) {
    for (const k of ticks(key)) n.top.add(k);
    if (ticks(key)[0] === 'pool') {
      for (const m of dflt.matchAll(/[{,]\s*([A-Za-z]\w*):/g)) n.pool.add(m[1]!);
      for (const k of ticks(allowed).filter(camel)) n.pool.add(k);
    }
  }
  dottedPoolKeys(PROXY_DOC, n);
  return n;
}

function fromReadme(): Named {
  const n = empty();
  for (const [, key = ''] of tableRows(README, '| flag | config key | meaning |')) {
    for (const t of ticks(key)) {
      const name = t.split(':')[0]!.trim();
      if (name.startsWith('pool.')) n.pool.add(name.slice(5));
      else n.top.add(name);
    }
  }
  const other = /Other proxy settings \(([^)]*)\)/.exec(README);
  expect(other, 'README names the other proxy settings').not.toBeNull();
  for (const k of ticks(other![1]!)) n.top.add(k);
  for (const [setting = '', ...rest] of tableRows(README, '| setting | unit | default | meaning |')) {
    for (const k of ticks(setting)) n.pool.add(k);
    for (const k of rest.flatMap(ticks).filter(camel)) n.pool.add(k);
  }
  dottedPoolKeys(README, n);
  return n;
}

function fromConfigFiles(): Named {
  const n = empty();
  for (const file of readdirSync(new URL('../../config/', import.meta.url))) {
    if (!/\.(ya?ml|json)$/.test(file)) continue;
    const text = read(`config/${file}`);
    const data = (file.endsWith('.json') ? JSON.parse(text) : parseYaml(text)) as Record<string, unknown>;
    for (const [k, v] of Object.entries(data)) {
      n.top.add(k);
      if (k === 'pool') for (const p of Object.keys(v as object)) n.pool.add(p);
    }
    // default.yaml names `upstream` only in a comment
    for (const m of text.matchAll(/^#\s*([a-z]\w*):/gm)) n.top.add(m[1]!);
  }
  return n;
}

const SOURCES: [string, () => Named][] = [
  ['synpool --help', fromHelp],
  ['docs/proxy.md', fromProxyDoc],
  ['README.md', fromReadme],
  ['config/*', fromConfigFiles],
];

function topValue(key: string): unknown {
  if (key === 'upstream') return UP;
  return Object.hasOwn(DEFAULTS, key) ? (DEFAULTS as Record<string, unknown>)[key] : 0;
}
function poolValue(key: string): unknown {
  return Object.hasOwn(POOL_DEFAULTS, key) ? (POOL_DEFAULTS as Record<string, unknown>)[key] : 0;
}

describe('config keys in the docs', () => {
  it.each(SOURCES)('every key %s names passes validation', (_name, extract) => {
    const named = extract();
    expect(named.top.size, 'top-level keys found').toBeGreaterThan(1);
    expect(named.pool.size, 'pool keys found').toBeGreaterThan(0);
    for (const key of named.top) {
      // upstreams and routes replace `upstream`: named groups and the routes to them.
      const layer = key === 'upstreams' || key === 'routes' ? { upstreams: { app: { servers: [UP] } }, routes: [{ upstream: 'app' }] } : { upstream: UP, [key]: topValue(key) };
      expect(() => validateConfig(layer), `top-level key ${key}`).not.toThrow();
    }
    for (const key of named.pool) {
      expect(() => validateConfig({ upstream: UP, pool: { [key]: poolValue(key) } }), `pool key ${key}`).not.toThrow();
    }
  });

  it('every schema key is in --help and in docs/proxy.md; every pool key in README and config/default.yaml', () => {
    const help = fromHelp();
    const doc = fromProxyDoc();
    for (const key of Object.keys(CONFIG_SCHEMA)) {
      expect(help.top.has(key), `--help lists ${key}`).toBe(true);
      expect(doc.top.has(key), `docs/proxy.md's configuration table lists ${key}`).toBe(true);
    }
    const readme = fromReadme();
    const files = fromConfigFiles();
    for (const key of Object.keys(POOL_DEFAULTS)) {
      expect(readme.pool.has(key), `README's Pool settings table lists ${key}`).toBe(true);
      expect(files.pool.has(key), `config/default.yaml lists ${key}`).toBe(true);
    }
  });

  it('the extraction catches a wrong key (the old help text named pool.size, min and max)', () => {
    expect(() => validateConfig({ upstream: UP, pool: { size: 8 } })).toThrow(/pool\.size: unknown field/);
    const n = empty();
    dottedPoolKeys('--pool-size N  half-open connections kept per upstream (pool.size, default 8)', n);
    expect([...n.pool]).toEqual(['size']);
  });
});

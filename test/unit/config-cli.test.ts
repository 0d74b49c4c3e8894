import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { HELP, main, parseCliArgs } from '../../src/cli.js';

function io() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  return { io: { stdout, stderr }, out: () => out, err: () => err };
}

describe('cli', () => {
  it('--help documents every flag and the probe subcommand, exit 0', async () => {
    const t = io();
    expect(await main(['--help'], t.io)).toBe(0);
    for (const word of ['--config', '--listen', '--upstream', '--pool-size', '--no-accel', '--metrics-listen', '--log-level', 'probe']) {
      expect(t.out()).toContain(word);
    }
    expect(t.out()).toBe(HELP);
  });

  it('bad config → exit 2, naming the field and the value', async () => {
    const t = io();
    expect(await main(['--upstream', 'ftp://10.0.0.2'], t.io)).toBe(2);
    expect(t.err()).toContain('upstream');
    expect(t.err()).toContain('ftp://10.0.0.2');
  });

  it('a non-numeric --pool-size → exit 2 naming pool.targetSize', async () => {
    const t = io();
    expect(await main(['--upstream', 'http://10.0.0.2', '--pool-size', 'many'], t.io)).toBe(2);
    expect(t.err()).toContain('pool.targetSize');
    expect(t.err()).toContain('many');
  });

  it('an unknown key in the config file → exit 2 naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'synpool-cli-'));
    try {
      const file = join(dir, 'c.yaml');
      writeFileSync(file, 'upstream: "http://10.0.0.2"\ntimeout: 5\n');
      const t = io();
      expect(await main(['--config', file], t.io)).toBe(2);
      expect(t.err()).toContain('config timeout: unknown key');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an unknown flag → exit 2', async () => {
    const t = io();
    expect(await main(['--frobnicate'], t.io)).toBe(2);
    expect(t.err()).toContain('--frobnicate');
  });

  it('an upstream host that does not resolve → exit 2', async () => {
    const t = io();
    const lookup = async (): Promise<string> => {
      throw Object.assign(new Error('no'), { code: 'ENOTFOUND' });
    };
    expect(await main(['--upstream', 'http://nowhere.invalid', '--metrics-listen', '127.0.0.1:0'], { ...t.io, lookup })).toBe(2);
    expect(t.err()).toContain('config upstream');
  });

  it('flags become overrides', () => {
    expect(
      parseCliArgs(['--config', 'f.yaml', '--listen', '0.0.0.0:80', '--upstream', 'http://h', '--pool-size', '4', '--no-accel', '--metrics-listen', '127.0.0.1:1', '--log-level', 'debug']),
    ).toEqual({
      command: 'serve',
      file: 'f.yaml',
      overrides: { listen: '0.0.0.0:80', upstream: 'http://h', pool: { sizing: 'fixed', targetSize: 4 }, accel: false, metricsListen: '127.0.0.1:1', logLevel: 'debug' },
    });
    expect(parseCliArgs(['probe', 'http://x'])).toEqual({ command: 'probe', args: ['http://x'] });
  });
});

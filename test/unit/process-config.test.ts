import { describe, expect, it } from 'vitest';
import { diffConfig } from '../../src/config/config-diff.js';
import { validateConfig } from '../../src/config/schema.js';
import { parseCliArgs } from '../../src/cli.js';
import { ConfigError } from '../../src/errors.js';
import { workerCount } from '../../src/process/supervisor.js';

const base = { upstream: 'http://10.0.0.2:8080' };

function refused(layer: Record<string, unknown>): string {
  try {
    validateConfig(base, layer);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('accepted');
}

describe('workers, user, keeperSocket', () => {
  it('default to one worker, nobody, no public keeper socket', () => {
    const c = validateConfig(base);
    expect([c.workers, c.user, c.keeperSocket]).toEqual([1, 'nobody', null]);
  });

  it('take a count or auto, a user name, an absolute socket path', () => {
    const c = validateConfig(base, { workers: 'auto', user: 'synpool', keeperSocket: '/run/synpool/keeper.sock' });
    expect([c.workers, c.user, c.keeperSocket]).toEqual(['auto', 'synpool', '/run/synpool/keeper.sock']);
    expect(workerCount(c)).toBeGreaterThanOrEqual(1);
    expect(workerCount(validateConfig(base, { workers: 3 }))).toBe(3);
  });

  it.each([
    [{ workers: 0 }, 'workers'],
    [{ workers: 1.5 }, 'workers'],
    [{ workers: 'many' }, 'workers'],
    [{ workers: 10_000 }, 'workers'],
    [{ user: '' }, 'user'],
    [{ user: 'a b' }, 'user'],
    [{ user: 7 }, 'user'],
    [{ keeperSocket: 'keeper.sock' }, 'keeperSocket'],
    [{ keeperSocket: `/${'x'.repeat(120)}` }, 'keeperSocket'],
  ])('refuse %j naming the field', (layer, field) => {
    expect(refused(layer)).toContain(`config ${field}:`);
  });

  it('come from --workers and --keeper-socket', () => {
    const cmd = parseCliArgs(['--upstream', 'http://10.0.0.2', '--workers', '2', '--keeper-socket', '/run/k.sock']);
    expect(cmd).toMatchObject({ command: 'serve', overrides: { workers: 2, keeperSocket: '/run/k.sock' } });
    expect(parseCliArgs(['--workers', 'auto'])).toMatchObject({ overrides: { workers: 'auto' } });
  });

  it('need a restart to change', () => {
    const d = diffConfig(validateConfig(base), validateConfig(base, { workers: 2, user: 'synpool', keeperSocket: '/run/k.sock' }));
    expect([...d.restartNeeded].sort()).toEqual(['keeperSocket', 'user', 'workers']);
  });
});

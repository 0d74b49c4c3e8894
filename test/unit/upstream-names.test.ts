import { describe, expect, it } from 'vitest';
import { resolveUpstream } from '../../src/config/load-config.js';
import { ConfigError } from '../../src/errors.js';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import { FakeClock } from '../../src/pool/clock.js';
import { usableEndpoints } from '../../src/resolve/address-lookup.js';
import { UpstreamAddresses, type AddressChange, type ResolveFailure } from '../../src/resolve/upstream-addresses.js';

const ep = (address: string, port = 8080): Endpoint => ({ address, port });

describe('usableEndpoints', () => {
  it('keeps each address once, in the resolver order, and says why one is skipped', () => {
    const r = usableEndpoints(['10.0.0.3', '10.0.0.2', '10.0.0.3', 'not-an-address'], 80);
    expect(r.endpoints).toEqual([ep('10.0.0.3', 80), ep('10.0.0.2', 80)]);
    expect(r.skipped).toHaveLength(1);
    expect(r.skipped[0]?.address).toBe('not-an-address');
    expect(r.skipped[0]?.reason).toMatch(/not an IP/);
  });

  it('takes a single string as a one-address answer', () => {
    expect(usableEndpoints('10.1.2.3', 443).endpoints).toEqual([ep('10.1.2.3', 443)]);
  });
});

describe('resolveUpstream with several addresses', () => {
  it('a name keeps every usable address; the first is `endpoint`/`origin`', async () => {
    const t = await resolveUpstream('http://origin.test:8080', async () => ['10.0.0.2', '10.0.0.3']);
    expect(t.resolvable).toBe(true);
    expect(t.endpoints).toEqual([ep('10.0.0.2'), ep('10.0.0.3')]);
    expect(t).toMatchObject({ hostname: 'origin.test', port: 8080, endpoint: ep('10.0.0.2'), origin: 'http://10.0.0.2:8080', hostHeader: 'origin.test:8080' });
  });

  it('a literal is not resolvable and is its own one address', async () => {
    const t = await resolveUpstream('http://10.0.0.2:8080', async () => {
      throw new Error('a literal must not be looked up');
    });
    expect(t).toMatchObject({ resolvable: false, endpoints: [ep('10.0.0.2')] });
  });

  it('a name whose every address is unusable is a ConfigError naming them', async () => {
    const err = await resolveUpstream('http://origin.test', async () => ['bogus']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).field).toBe('upstream');
    expect((err as ConfigError).message).toMatch(/no usable address.*bogus/);
  });
});

function follower(initial: string[], answers: Array<string[] | Error>) {
  const clock = new FakeClock(0);
  const calls: string[] = [];
  const lookup = async (hostname: string): Promise<string[]> => {
    calls.push(hostname);
    const next = answers.shift();
    if (next === undefined) throw new Error('no more answers scripted');
    if (next instanceof Error) throw next;
    return next;
  };
  const addresses = new UpstreamAddresses({ hostname: 'origin.test', port: 8080, initial: initial.map((a) => ep(a)), lookup, intervalMs: 1_000, clock });
  const changes: AddressChange[] = [];
  const failures: ResolveFailure[] = [];
  addresses.on('change', (c) => changes.push(c));
  addresses.on('resolve-failed', (f) => failures.push(f));
  return { clock, calls, addresses, changes, failures };
}

/** Lets the lookup's promise chain settle after a timer fired. */
const settle = () => new Promise((r) => setImmediate(r));

describe('UpstreamAddresses', () => {
  it('reports what came and went; kept addresses keep their order, new ones go last', async () => {
    const { addresses, changes } = follower(['10.0.0.2', '10.0.0.3'], [['10.0.0.4', '10.0.0.3']]);
    await addresses.refresh();
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ added: [ep('10.0.0.4')], removed: [ep('10.0.0.2')] });
    expect(addresses.current).toEqual([ep('10.0.0.3'), ep('10.0.0.4')]);
  });

  it('an unchanged answer (in any order) emits nothing', async () => {
    const { addresses, changes } = follower(['10.0.0.2', '10.0.0.3'], [['10.0.0.3', '10.0.0.2']]);
    await addresses.refresh();
    expect(changes).toEqual([]);
    expect(addresses.current).toEqual([ep('10.0.0.2'), ep('10.0.0.3')]);
  });

  it('a failed or empty answer keeps the last good set and is reported', async () => {
    const { addresses, changes, failures } = follower(['10.0.0.2'], [Object.assign(new Error('x'), { code: 'EAI_AGAIN' }), [], ['bogus']]);
    await addresses.refresh();
    await addresses.refresh();
    await addresses.refresh();
    expect(changes).toEqual([]);
    expect(failures.map((f) => f.error)).toEqual(['EAI_AGAIN', 'NO_USABLE_ADDRESS', 'NO_USABLE_ADDRESS']);
    expect(failures.every((f) => f.kept.length === 1)).toBe(true);
    expect(addresses.current).toEqual([ep('10.0.0.2')]);
  });

  it('re-resolves every interval once started, and not after close()', async () => {
    const { addresses, clock, calls } = follower(['10.0.0.2'], [['10.0.0.2'], ['10.0.0.2'], ['10.0.0.2']]);
    clock.advance(5_000);
    expect(calls).toHaveLength(0); // not started: no look-up
    addresses.start();
    clock.advance(1_000);
    await settle();
    clock.advance(1_000);
    await settle();
    expect(calls).toHaveLength(2);
    addresses.close();
    clock.advance(10_000);
    await settle();
    expect(calls).toHaveLength(2);
  });

  it('concurrent refreshes share one look-up', async () => {
    const { addresses, calls } = follower(['10.0.0.2'], [['10.0.0.3']]);
    await Promise.all([addresses.refresh(), addresses.refresh()]);
    expect(calls).toHaveLength(1);
  });
});

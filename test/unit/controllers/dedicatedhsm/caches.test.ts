/** The shared network read cache and the own-writes chain that keeps decisions off stale cache entries. */
import { describe, expect, it } from 'vitest';
import { OwnWrites } from '../../../../src/runtime/index.js';
import { ReadCache } from '../../../../src/controllers/dedicatedhsm/read-cache.js';
import { FakeClock, type KubeObject } from '../../../../src/runtime/index.js';

describe('ReadCache', () => {
  it('HSMs behind one gateway share a read within the TTL, and concurrent reads share one request', async () => {
    const clock = new FakeClock();
    const cache = new ReadCache<string>(clock, () => 1_000);
    let calls = 0;
    const fetch = () => Promise.resolve(`state-${++calls}`);
    const [a, b] = await Promise.all([cache.get('gw', fetch), cache.get('gw', fetch)]);
    expect([a, b, calls]).toEqual(['state-1', 'state-1', 1]);
    clock.advance(999);
    expect(await cache.get('gw', fetch)).toBe('state-1');
    clock.advance(1);
    expect(await cache.get('gw', fetch)).toBe('state-2');
    expect(await cache.get('other', fetch)).toBe('state-3');
    expect(cache.fetches).toBe(3);
  });

  it('failures are not cached; invalidate forces a fresh read', async () => {
    const cache = new ReadCache<string>(new FakeClock(), () => 60_000);
    await expect(cache.get('gw', () => Promise.reject(new Error('503')))).rejects.toThrow('503');
    expect(await cache.get('gw', () => Promise.resolve('ok'))).toBe('ok');
    cache.invalidate('gw');
    expect(await cache.get('gw', () => Promise.resolve('fresh'))).toBe('fresh');
  });
});

describe('OwnWrites', () => {
  const obj = (rv: string, extra: Record<string, unknown> = {}): KubeObject => ({ metadata: { uid: 'u1', name: 'hsm1', resourceVersion: rv }, ...extra });

  it('a cached version this process wrote past resolves to the newest write', () => {
    const own = new OwnWrites<KubeObject>();
    own.record(obj('1'), obj('2', { status: 'finalizer' }));
    own.record(obj('2'), obj('3', { status: 'token' }));
    expect(own.resolve(obj('1')).metadata?.resourceVersion).toBe('3');
    expect(own.resolve(obj('2')).metadata?.resourceVersion).toBe('3');
  });

  it('a version written by someone else is taken as it is; a caught-up cache ends the chain', () => {
    const own = new OwnWrites<KubeObject>();
    own.record(obj('1'), obj('2'));
    expect(own.resolve(obj('7')).metadata?.resourceVersion).toBe('7');
    expect(own.resolve(obj('2')).metadata?.resourceVersion).toBe('2');
    expect(own.resolve(obj('1')).metadata?.resourceVersion).toBe('1');
  });
});

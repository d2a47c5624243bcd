/**
 * An HA group reads two or more Secrets per pass (client host, group password, appliances for label lookups). Its
 * declared dependencies must never shrink mid-pass: dropping a Secret that is read again later in the same pass
 * evicted it from the cache, and its re-read looked like a new Secret that re-enqueued the group at once, forever.
 */
import { describe, expect, it } from 'vitest';
import { SecretReads, hostKeyPolicyFor } from '../../../../src/controllers/shared/index.js';
import type { SecretCache, SecretObject } from '../../../../src/runtime/index.js';

function fakeCache() {
  const declared: string[][] = [];
  const secret = (key: string): SecretObject => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: key.split('/')[1] ?? key, namespace: 'ns', uid: `uid-${key}`, resourceVersion: '1' },
    data: { password: Buffer.from('pw').toString('base64') },
  });
  const cache = {
    track: (_controller: string, _owner: string, keys: Iterable<string>) => declared.push([...keys].sort()),
    get: (key: string) => Promise.resolve(secret(key)),
  } as unknown as SecretCache;
  return { cache, declared };
}

describe('SecretReads', () => {
  it('keeps the previous declaration while a pass is still reading, then declares exactly what it read', async () => {
    const { cache, declared } = fakeCache();
    const first = new SecretReads(cache, 'HsmHaGroup', 'ns/g');
    await first.value('ns', 'client', 'password');
    await first.value('ns', 'group-pw', 'password');
    first.done();
    declared.length = 0;

    const second = new SecretReads(cache, 'HsmHaGroup', 'ns/g');
    const v = await second.value('ns', 'client', 'password');
    expect(v.ok && v.value).toBe('pw');
    // group-pw is still declared although this pass has not read it yet.
    expect(declared[0]).toEqual(['ns/client', 'ns/group-pw']);
    second.done();
    expect(declared.at(-1)).toEqual(['ns/client']);
  });

  it('owners and controllers do not share declarations', async () => {
    const { cache, declared } = fakeCache();
    const a = new SecretReads(cache, 'HsmHaGroup', 'ns/a');
    await a.value('ns', 'x', 'password');
    a.done();
    declared.length = 0;
    await new SecretReads(cache, 'HsmHaGroup', 'ns/b').value('ns', 'y', 'password');
    await new SecretReads(cache, 'NtlsClientBinding', 'ns/a').value('ns', 'z', 'password');
    expect(declared).toEqual([['ns/y'], ['ns/z']]);
  });
});

describe('SecretReads.credential: the one opt-in check of device credentials', () => {
  const cacheWith = (annotations: Record<string, string> | undefined, data: Record<string, string> = { password: 'c2VjcmV0' }) =>
    ({
      track: () => undefined,
      get: () => Promise.resolve({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'ns', uid: 'u', resourceVersion: '1', ...(annotations ? { annotations } : {}) }, data }),
    }) as unknown as SecretCache;
  const user = { kind: 'DedicatedHsm' as const, name: 'hsm-a' };

  it('returns the value only when the Secret names the object; never the value otherwise', async () => {
    const ok = await new SecretReads(cacheWith({ 'dedicatedhsm.io/credential-for': 'DedicatedHsm/hsm-a' }), 'DedicatedHsm', 'ns/hsm-a').credential('ns', 's', 'password', user);
    expect(ok).toMatchObject({ ok: true, value: 'secret' });
    for (const annotations of [undefined, { 'dedicatedhsm.io/credential-for': 'HsmHaGroup/hsm-a' }]) {
      const r = await new SecretReads(cacheWith(annotations), 'DedicatedHsm', 'ns/hsm-a').credential('ns', 's', 'password', user);
      expect(r.ok).toBe(false);
      expect(r).toMatchObject({ reason: 'CredentialNotOptedIn' });
      expect('value' in r).toBe(false);
      expect(!r.ok && r.message).toContain('kubectl annotate secret -n ns s dedicatedhsm.io/credential-for=');
    }
    // A plain read (a TLS Secret, an Azure service principal) needs no opt-in.
    expect(await new SecretReads(cacheWith(undefined), 'NtlsClientBinding', 'ns/b').value('ns', 's', 'password')).toMatchObject({ ok: true });
  });

  it('a missing Secret or key is still SecretNotFound', async () => {
    const missing = { track: () => undefined, get: () => Promise.resolve(undefined) } as unknown as SecretCache;
    expect(await new SecretReads(missing, 'DedicatedHsm', 'ns/hsm-a').credential('ns', 's', 'password', user)).toMatchObject({ ok: false, reason: 'SecretNotFound' });
    const noKey = cacheWith({ 'dedicatedhsm.io/credential-for': '*' }, {});
    expect(await new SecretReads(noKey, 'DedicatedHsm', 'ns/hsm-a').credential('ns', 's', 'password', user)).toMatchObject({ ok: false, reason: 'SecretNotFound' });
  });
});

describe('hostKeyPolicyFor', () => {
  it('pins the spec key, else the key already seen, else trusts on first use only', () => {
    expect(hostKeyPolicyFor('SHA256:spec', 'SHA256:seen')).toEqual({ pinned: 'SHA256:spec' });
    expect(hostKeyPolicyFor(undefined, 'SHA256:seen')).toEqual({ pinned: 'SHA256:seen' });
    expect(hostKeyPolicyFor(undefined, undefined)).toEqual({ trustOnFirstUse: true });
  });
});

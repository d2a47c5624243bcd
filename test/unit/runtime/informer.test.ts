import { describe, expect, it } from 'vitest';
import { CoreTypes, FakeClock, Informer, KubeClient, RuntimeMetrics, SecretCache, diffAgainstStore, Store, type ApiRequest, type KubeObject, type StreamRequest, type Transport } from '../../../src/runtime/index.js';
import { FakeApi } from './fake-api.js';

const settle = async (rounds = 5) => {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
};

const CM = '/api/v1/namespaces/ns/configmaps';
const cm = (name: string, value: string) => ({ metadata: { name, namespace: 'ns' }, data: { value } });

function setup(opts: { idleTimeoutMs?: number; relistIntervalMs?: number } = {}) {
  const api = new FakeApi();
  const clock = new FakeClock();
  const metrics = new RuntimeMetrics();
  const client = new KubeClient(api, { metrics });
  const informer = new Informer<KubeObject & { data?: { value?: string } }>({
    client,
    type: CoreTypes.configMaps,
    namespaces: ['ns'],
    idleTimeoutMs: opts.idleTimeoutMs ?? 60_000,
    relistIntervalMs: opts.relistIntervalMs ?? 0,
    clock,
    metrics,
    random: () => 0,
  });
  const seen: string[] = [];
  informer.addHandlers({
    onAdd: (o) => seen.push(`add:${o.metadata?.name}:${o.data?.value}`),
    onUpdate: (_old, o) => seen.push(`update:${o.metadata?.name}:${o.data?.value}`),
    onDelete: (o) => seen.push(`delete:${o.metadata?.name}`),
  });
  const value = (name: string) => informer.get(`ns/${name}`)?.data?.value;
  return { api, clock, metrics, informer, seen, value };
}

describe('Informer', () => {
  it('lists, then follows the watch: adds, updates, deletes', async () => {
    const t = setup();
    t.api.put(CM, cm('a', '1'));
    t.informer.start();
    await settle();
    expect(t.informer.hasSynced()).toBe(true);
    expect(t.seen).toEqual(['add:a:1']);
    t.api.put(CM, cm('a', '2'));
    t.api.put(CM, cm('b', '1'));
    t.api.remove(CM, 'a');
    await settle();
    expect(t.seen).toEqual(['add:a:1', 'update:a:2', 'add:b:1', 'delete:a']);
    expect(t.informer.keys()).toEqual(['ns/b']);
    await t.informer.stop();
  });

  it('relists after 410 Gone and reports what the broken watch missed as adds, updates and deletes', async () => {
    const t = setup();
    t.api.put(CM, cm('keep', '1'));
    t.api.put(CM, cm('change', '1'));
    t.api.put(CM, cm('drop', '1'));
    t.informer.start();
    await settle();
    t.seen.length = 0;
    // The connection breaks; meanwhile objects change and etcd is compacted past the watch's resourceVersion.
    t.api.down = new Error('ECONNREFUSED');
    t.api.breakWatches();
    await settle();
    t.api.down = undefined;
    t.api.put(CM, cm('change', '2'));
    t.api.put(CM, cm('change', '3'));
    t.api.remove(CM, 'drop');
    t.api.put(CM, cm('new', '1'));
    t.api.compactedAt = t.api.rv;
    t.clock.advance(2_000); // past the first backoff
    await settle(10);
    expect(t.seen.sort()).toEqual(['add:new:1', 'delete:drop', 'update:change:3']);
    expect(t.value('change')).toBe('3');
    expect(t.informer.keys().sort()).toEqual(['ns/change', 'ns/keep', 'ns/new']);
    expect(await t.metrics.value('hsm_operator_watch_relists_total', { reason: 'gone' })).toBe(1);
    expect(await t.metrics.value('hsm_operator_watch_restarts_total', { reason: 'error' })).toBeGreaterThanOrEqual(1);
    await t.informer.stop();
  });

  it('restarts a watch that went silent (no event, no bookmark) and catches up from its resourceVersion', async () => {
    const t = setup({ idleTimeoutMs: 10_000 });
    t.informer.start();
    await settle();
    t.api.broadcast({ type: 'BOOKMARK', object: { metadata: { resourceVersion: String(t.api.rv) } } });
    t.clock.advance(9_000);
    t.api.broadcast({ type: 'BOOKMARK', object: { metadata: { resourceVersion: String(t.api.rv) } } });
    t.clock.advance(9_000);
    await settle();
    expect(await t.metrics.value('hsm_operator_watch_restarts_total', { reason: 'idle' })).toBe(0); // bookmarks count as life
    t.api.stallWatches();
    t.api.put(CM, cm('late', '1'));
    await settle();
    expect(t.value('late')).toBeUndefined();
    expect(t.informer.staleness()).toBe(9_000); // since the last bookmark
    t.clock.advance(10_000);
    await settle();
    expect(await t.metrics.value('hsm_operator_watch_restarts_total', { reason: 'idle' })).toBe(1);
    expect(t.value('late')).toBe('1');
    expect(t.api.count('GET', '/configmaps')).toBe(1); // caught up by watching, not relisting
    await t.informer.stop();
  });

  it('relists periodically and turns the difference into events', async () => {
    const t = setup({ relistIntervalMs: 60_000 });
    t.api.put(CM, cm('a', '1'));
    t.informer.start();
    await settle();
    t.api.stallWatches(); // whatever the watch misses, the relist finds
    t.api.put(CM, cm('a', '2'));
    await settle();
    expect(t.value('a')).toBe('1');
    t.clock.advance(60_000);
    await settle();
    expect(t.value('a')).toBe('2');
    expect(await t.metrics.value('hsm_operator_watch_relists_total', { reason: 'periodic' })).toBe(1);
    await t.informer.stop();
  });

  it('keeps retrying a failing list with backoff and reports not synced, then stale', async () => {
    const t = setup({ idleTimeoutMs: 10_000 });
    t.api.down = new Error('ECONNREFUSED');
    t.informer.start();
    await settle();
    expect(t.informer.hasSynced()).toBe(false);
    expect(t.informer.unhealthyReason()).toBe('not synced');
    for (let i = 0; i < 5; i++) {
      t.clock.advance(30_000);
      await settle();
    }
    expect(await t.metrics.value('hsm_operator_watch_restarts_total', { reason: 'error' })).toBeGreaterThanOrEqual(5);
    t.api.down = undefined;
    t.clock.advance(30_000);
    await settle();
    expect(t.informer.hasSynced()).toBe(true);
    expect(t.informer.unhealthyReason()).toBeUndefined();
    t.api.down = new Error('ECONNREFUSED');
    t.api.breakWatches();
    for (let i = 0; i < 3; i++) {
      t.clock.advance(10_000);
      await settle();
    }
    expect(t.informer.unhealthyReason()).toMatch(/^stale/);
    await t.informer.stop();
  });
});

describe('diffAgainstStore', () => {
  it('compares by resourceVersion and limits deletions to the listed scope', () => {
    const store = new Store();
    store.upsert({ metadata: { namespace: 'a', name: 'same', resourceVersion: '1' } });
    store.upsert({ metadata: { namespace: 'a', name: 'changed', resourceVersion: '1' } });
    store.upsert({ metadata: { namespace: 'a', name: 'gone', resourceVersion: '1' } });
    store.upsert({ metadata: { namespace: 'b', name: 'other-scope', resourceVersion: '1' } });
    const d = diffAgainstStore(
      store,
      [
        { metadata: { namespace: 'a', name: 'same', resourceVersion: '1' } },
        { metadata: { namespace: 'a', name: 'changed', resourceVersion: '2' } },
        { metadata: { namespace: 'a', name: 'new', resourceVersion: '3' } },
      ],
      (o) => o.metadata?.namespace === 'a',
    );
    expect(d.added.map((o) => o.metadata?.name)).toEqual(['new']);
    expect(d.updated.map((u) => u.obj.metadata?.name)).toEqual(['changed']);
    expect(d.deleted.map((o) => o.metadata?.name)).toEqual(['gone']);
  });

  it('indexes objects for reverse lookups', () => {
    const store = new Store();
    store.addIndex('hsm', (o) => [String((o.spec as { hsm?: string } | undefined)?.hsm ?? '')]);
    store.upsert({ metadata: { namespace: 'a', name: 'b1' }, spec: { hsm: 'h1' } });
    store.upsert({ metadata: { namespace: 'a', name: 'b2' }, spec: { hsm: 'h1' } });
    store.upsert({ metadata: { namespace: 'a', name: 'b2' }, spec: { hsm: 'h2' } });
    expect(store.byIndex('hsm', 'h1').map((o) => o.metadata?.name)).toEqual(['b1']);
    expect(store.byIndex('hsm', 'h2').map((o) => o.metadata?.name)).toEqual(['b2']);
    store.remove('a/b1');
    expect(store.byIndex('hsm', 'h1')).toEqual([]);
  });
});

describe('SecretCache', () => {
  it('keeps only tracked Secrets and maps their changes to the owners that read them', async () => {
    const api = new FakeApi();
    const clock = new FakeClock();
    const client = new KubeClient(api);
    const SECRETS = '/api/v1/namespaces/ns/secrets';
    api.put(SECRETS, { metadata: { name: 'creds', namespace: 'ns' }, data: { password: 'cDQ1NQ==' } });
    api.put(SECRETS, { metadata: { name: 'unrelated', namespace: 'ns' }, data: { token: 'eA==' } });
    const secrets = new SecretCache({ client, clock, random: () => 0, relistIntervalMs: 0, namespaces: ['ns'] });
    const enqueued: string[] = [];
    const toHsm = secrets.mapTo('DedicatedHsm');
    secrets.informer.addHandlers({ onUpdate: (_o, s) => enqueued.push(...toHsm(s)), onDelete: (s) => enqueued.push(...toHsm(s)) });
    secrets.informer.start();
    await settle();
    expect(secrets.informer.size).toBe(0); // nothing tracked yet: nothing kept
    secrets.track('DedicatedHsm', 'ns/hsm-1', ['ns/creds']);
    secrets.track('NtlsClientBinding', 'ns/b-1', ['ns/creds']);
    const got = await secrets.get('ns/creds'); // not cached yet: read from the API, then cached
    expect(got?.data?.password).toBe('cDQ1NQ==');
    expect(secrets.informer.keys()).toEqual(['ns/creds']);
    api.put(SECRETS, { metadata: { name: 'creds', namespace: 'ns' }, data: { password: 'bmV3' } });
    api.put(SECRETS, { metadata: { name: 'unrelated', namespace: 'ns' }, data: { token: 'eQ==' } });
    await settle();
    expect(enqueued).toEqual(['ns/hsm-1']);
    expect(secrets.informer.get('ns/creds')?.data?.password).toBe('bmV3');
    expect(secrets.informer.get('ns/unrelated')).toBeUndefined();
    secrets.untrack('DedicatedHsm', 'ns/hsm-1');
    expect(secrets.isTracked('ns/creds')).toBe(true); // the binding still reads it
    secrets.untrack('NtlsClientBinding', 'ns/b-1');
    expect(secrets.informer.size).toBe(0); // nobody reads it: its data is dropped
    await secrets.informer.stop();
  });
  it('asks the API once for a tracked Secret that does not exist; the watch brings its creation, and a delete makes it missing again', async () => {
    const api = new FakeApi();
    const clock = new FakeClock();
    const client = new KubeClient(api);
    const SECRETS = '/api/v1/namespaces/ns/secrets';
    const secrets = new SecretCache({ client, clock, random: () => 0, relistIntervalMs: 0, namespaces: ['ns'] });
    const gets = () => api.requests.filter((r) => r.verb === 'GET' && r.path === `${SECRETS}/creds`).length;
    // Before the watch runs nothing is remembered: every read asks.
    secrets.track('DedicatedHsm', 'ns/hsm-1', ['ns/creds']);
    expect(await secrets.get('ns/creds')).toBeUndefined();
    expect(await secrets.get('ns/creds')).toBeUndefined();
    expect(gets()).toBe(2);
    secrets.informer.start();
    await settle();
    for (let i = 0; i < 5; i++) expect(await secrets.get('ns/creds')).toBeUndefined();
    expect(gets()).toBe(3); // one more GET, then the watch is trusted
    api.put(SECRETS, { metadata: { name: 'creds', namespace: 'ns' }, data: { password: 'cDQ1NQ==' } });
    await settle();
    expect((await secrets.get('ns/creds'))?.data?.password).toBe('cDQ1NQ==');
    expect(gets()).toBe(3); // from the watch, not asked
    api.remove(SECRETS, 'creds');
    await settle();
    expect(await secrets.get('ns/creds')).toBeUndefined();
    expect(await secrets.get('ns/creds')).toBeUndefined();
    expect(gets()).toBe(4);
    // Untracked and tracked again: nothing remembered from before.
    secrets.untrack('DedicatedHsm', 'ns/hsm-1');
    secrets.track('DedicatedHsm', 'ns/hsm-1', ['ns/creds']);
    expect(await secrets.get('ns/creds')).toBeUndefined();
    expect(gets()).toBe(5);
    await secrets.informer.stop();
  });

  it('does not remember a 404 that a creation seen on the watch overtook', async () => {
    const api = new FakeApi();
    const clock = new FakeClock();
    const SECRETS = '/api/v1/namespaces/ns/secrets';
    // The 404 is answered, then held on the wire until the creation has come through the watch.
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    let hold = false;
    const transport: Transport = {
      request: async (req: ApiRequest) => {
        const res = await api.request(req);
        if (hold && req.verb === 'GET' && req.path === `${SECRETS}/creds`) await held;
        return res;
      },
      stream: (req: StreamRequest) => api.stream(req),
    };
    const secrets = new SecretCache({ client: new KubeClient(transport), clock, random: () => 0, relistIntervalMs: 0, namespaces: ['ns'] });
    secrets.track('DedicatedHsm', 'ns/hsm-1', ['ns/creds']);
    secrets.informer.start();
    await settle();
    hold = true;
    const pending = secrets.get('ns/creds');
    await settle();
    api.put(SECRETS, { metadata: { name: 'creds', namespace: 'ns' }, data: { password: 'cDQ1NQ==' } });
    await settle();
    // The watch kept it; drop it from the store as a relist would find it gone, so only a GET can find it again.
    expect(secrets.informer.get('ns/creds')).toBeDefined();
    release();
    expect(await pending).toBeUndefined(); // the old answer
    hold = false;
    secrets.informer.store.remove('ns/creds');
    expect((await secrets.get('ns/creds'))?.data?.password).toBe('cDQ1NQ==');
    await secrets.informer.stop();
  });
});

describe('SecretCache serving all namespaces: Secrets by name only', () => {
  const SECRETS = '/api/v1/namespaces/ns/secrets';
  function setupByName() {
    const api = new FakeApi();
    const clock = new FakeClock();
    const secrets = new SecretCache({ client: new KubeClient(api), clock, refreshAfterMs: 30_000 });
    const enqueued: string[] = [];
    const toHsm = secrets.mapTo('DedicatedHsm');
    secrets.informer.addHandlers({ onAdd: (s) => enqueued.push(`add:${toHsm(s).join()}`), onUpdate: (_o, s) => enqueued.push(`update:${toHsm(s).join()}`), onDelete: (s) => enqueued.push(`delete:${toHsm(s).join()}`) });
    const listsOrWatches = () => api.requests.filter((r) => r.verb !== 'GET' || !/\/secrets\/[^/]+$/.test(r.path) || r.path.includes('watch'));
    const gets = (name: string) => api.requests.filter((r) => r.verb === 'GET' && r.path === `${SECRETS}/${name}`).length;
    return { api, clock, secrets, enqueued, listsOrWatches, gets };
  }

  it('never lists or watches Secrets: a tracked one is read by GET, trusted for refreshAfterMs, then read again', async () => {
    const { api, clock, secrets, listsOrWatches, gets } = setupByName();
    expect(secrets.byName).toBe(true);
    api.put(SECRETS, { metadata: { name: 'creds', namespace: 'ns', resourceVersion: '1' }, data: { password: 'cDQ1NQ==' } });
    secrets.informer.start();
    await settle();
    expect(secrets.informer.hasSynced()).toBe(true);
    secrets.track('DedicatedHsm', 'ns/hsm-1', ['ns/creds', 'ns/missing']);
    for (let i = 0; i < 3; i++) {
      expect((await secrets.get('ns/creds'))?.data?.password).toBe('cDQ1NQ==');
      expect(await secrets.get('ns/missing')).toBeUndefined();
    }
    expect([gets('creds'), gets('missing')]).toEqual([1, 1]); // a missing Secret is remembered for the period too
    clock.advance(30_000);
    await secrets.get('ns/creds');
    await secrets.get('ns/missing');
    expect([gets('creds'), gets('missing')]).toEqual([2, 2]);
    expect(listsOrWatches()).toEqual([]);
    await secrets.informer.stop();
  });

  it('the refresh notices a rotated, created or deleted Secret and re-enqueues the objects that read it; untracked ones are never read', async () => {
    const { api, clock, secrets, enqueued, listsOrWatches, gets } = setupByName();
    api.put(SECRETS, { metadata: { name: 'creds', namespace: 'ns', resourceVersion: '1' }, data: { password: 'b2xk' } });
    api.put(SECRETS, { metadata: { name: 'unrelated', namespace: 'ns', resourceVersion: '1' }, data: { token: 'eA==' } });
    secrets.track('DedicatedHsm', 'ns/hsm-1', ['ns/creds', 'ns/later']);
    await secrets.get('ns/creds');
    await secrets.get('ns/later');
    expect(enqueued).toEqual(['add:ns/hsm-1']);
    // Unchanged: a refresh inside the period reads nothing; after it, reads again and announces nothing.
    await secrets.refresh();
    expect(gets('creds')).toBe(1);
    clock.advance(30_000);
    await secrets.refresh();
    expect(gets('creds')).toBe(2);
    expect(enqueued).toEqual(['add:ns/hsm-1']);
    // Rotated and created: noticed at the next refresh after the period.
    api.put(SECRETS, { metadata: { name: 'creds', namespace: 'ns', resourceVersion: '2' }, data: { password: 'bmV3' } });
    api.put(SECRETS, { metadata: { name: 'later', namespace: 'ns', resourceVersion: '1' }, data: { password: 'eQ==' } });
    clock.advance(30_000);
    await secrets.refresh();
    expect(enqueued).toEqual(['add:ns/hsm-1', 'update:ns/hsm-1', 'add:ns/hsm-1']);
    expect((await secrets.get('ns/creds'))?.data?.password).toBe('bmV3');
    api.remove(SECRETS, 'creds');
    clock.advance(30_000);
    await secrets.refresh();
    expect(enqueued.at(-1)).toBe('delete:ns/hsm-1');
    expect(gets('unrelated')).toBe(0);
    expect(listsOrWatches()).toEqual([]);
    // Untracked: forgotten, never read again.
    secrets.untrack('DedicatedHsm', 'ns/hsm-1');
    clock.advance(30_000);
    const before = api.requests.length;
    await secrets.refresh();
    expect(api.requests.length).toBe(before);
    expect(secrets.informer.size).toBe(0);
  });

  it('a Secret this process created is read again at once, whatever a GET found missing before', async () => {
    const { api, secrets, gets } = setupByName();
    secrets.track('NtlsClientBinding', 'ns/b', ['ns/out']);
    expect(await secrets.get('ns/out')).toBeUndefined();
    api.put(SECRETS, { metadata: { name: 'out', namespace: 'ns', resourceVersion: '1' }, data: { a: 'eA==' } });
    expect(await secrets.get('ns/out')).toBeUndefined(); // remembered missing for the period
    secrets.created('ns/out');
    expect((await secrets.get('ns/out'))?.data?.a).toBe('eA==');
    expect(gets('out')).toBe(2);
  });

  it('with served namespaces it watches Secrets per namespace, never cluster-wide', async () => {
    const api = new FakeApi();
    const secrets = new SecretCache({ client: new KubeClient(api), clock: new FakeClock(), random: () => 0, relistIntervalMs: 0, namespaces: ['team-a', 'team-b'] });
    expect(secrets.byName).toBe(false);
    secrets.informer.start();
    await settle();
    const paths = [...new Set(api.requests.filter((r) => r.verb === 'GET').map((r) => r.path.split('?')[0]))].sort();
    expect(paths).toEqual(['/api/v1/namespaces/team-a/secrets', '/api/v1/namespaces/team-b/secrets']);
    await secrets.informer.stop();
  });
});

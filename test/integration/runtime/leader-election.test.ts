/**
 * Managers campaigning for one Lease on the real apiserver: exactly one reconciles; a leader that dies without
 * releasing is replaced once the Lease expires; a clean shutdown hands over at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoordinationV1Api, CoreV1Api } from '@kubernetes/client-node';
import { adminConfig, createNamespace } from '../../support/kube.js';
import { waitFor } from '../../support/wait.js';
import { CoreTypes, Manager, RuntimeMetrics, silentLogger } from '../../../src/runtime/index.js';

describe('leader election (real apiserver)', () => {
  let ns: string;
  const managers = new Map<string, Manager>();
  const reconciles: { by: string; key: string }[] = [];
  const overlaps: string[] = [];

  function newManager(identity: string): Manager {
    const m = new Manager({
      kubeConfig: adminConfig(),
      namespaces: [ns],
      leaderElection: { namespace: ns, name: 'hsm-operator-leader', identity, leaseDurationMs: 8_000, renewDeadlineMs: 5_000, retryPeriodMs: 1_000 },
      metricsBindAddress: '127.0.0.1:0',
      healthProbeBindAddress: '127.0.0.1:0',
      metrics: new RuntimeMetrics(),
      log: silentLogger,
      shutdownTimeoutMs: 5_000,
    });
    const cms = m.informer(CoreTypes.configMaps, { labelSelector: 'leader-test=yes' });
    m.addController({
      name: 'recorder',
      for: cms,
      reconciler: async (key) => {
        for (const [other, om] of managers) if (other !== identity && om.reconciling) overlaps.push(`${identity} and ${other} both reconciling ${key}`);
        reconciles.push({ by: identity, key });
      },
    });
    managers.set(identity, m);
    return m;
  }

  const leaders = () => [...managers].filter(([, m]) => m.isLeader()).map(([id]) => id);
  const cm = (name: string) =>
    adminConfig()
      .makeApiClient(CoreV1Api)
      .createNamespacedConfigMap({ namespace: ns, body: { metadata: { name, labels: { 'leader-test': 'yes' } } } });
  const reconciledBy = (key: string) => [...new Set(reconciles.filter((r) => r.key === `${ns}/${key}`).map((r) => r.by))];

  beforeAll(async () => {
    ns = await createNamespace('leader');
  });

  afterAll(async () => {
    await Promise.all([...managers.values()].map((m) => m.stop(1_000)));
  });

  it('runs controllers on exactly one manager and hands over on death and on clean shutdown', async () => {
    const a = newManager('a');
    const b = newManager('b');
    await Promise.all([a.start(), b.start()]);
    await waitFor('a leader is elected', () => leaders().length === 1, 20_000);
    const first = leaders()[0] as string;
    const standby = first === 'a' ? 'b' : 'a';
    await cm('one');
    await waitFor('the leader reconciles', () => reconciledBy('one').length > 0, 20_000);
    await sleep(1_500);
    expect(reconciledBy('one')).toEqual([first]);
    expect(managers.get(standby)?.reconciling).toBe(false);

    // Probes and metrics of a running manager.
    const leader = managers.get(first) as Manager;
    const ready = await fetch(`${leader.healthUrl}/readyz?verbose`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).toContain('[+]cache:configmaps');
    const metricsText = await (await fetch(`${leader.metricsUrl}/metrics`)).text();
    expect(metricsText).toMatch(/hsm_operator_leader\{lease="[^"]+\/hsm-operator-leader"\} 1/);
    expect(metricsText).toMatch(/controller_runtime_reconcile_total\{controller="recorder",result="success"\} [1-9]/);
    // client-go's labels: {code, method, host} (order as the registry prints them).
    expect(metricsText).toMatch(/rest_client_requests_total\{(?=[^}]*code="200")(?=[^}]*method="PUT")(?=[^}]*host="127\.0\.0\.1:\d+")[^}]*\} [1-9]/);

    // The leader dies without releasing the Lease: the standby takes over once it expires.
    await leader.stop(1_000, { releaseLease: false });
    managers.delete(first);
    const lostAt = Date.now();
    await waitFor('the standby takes over', () => managers.get(standby)?.isLeader() === true, 20_000);
    const takeover = Date.now() - lostAt;
    expect(takeover).toBeGreaterThan(1_000); // it had to wait for the Lease to expire
    await cm('two');
    await waitFor('the new leader reconciles', () => reconciledBy('two').length > 0, 20_000);
    expect(reconciledBy('two')).toEqual([standby]);

    // A fresh standby joins; the leader shuts down cleanly and releases: the handover does not wait for expiry.
    const c = newManager('c');
    await c.start();
    await sleep(2_000);
    expect(c.isLeader()).toBe(false);
    const current = managers.get(standby) as Manager;
    await current.stop(5_000);
    managers.delete(standby);
    const releasedAt = Date.now();
    await waitFor('the new standby takes over', () => c.isLeader(), 20_000);
    const handover = Date.now() - releasedAt;
    expect(handover).toBeLessThan(8_000); // well inside the 8 s lease: the release, not expiry, handed over
    const lease = await adminConfig().makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: ns, name: 'hsm-operator-leader' });
    expect(lease.spec?.holderIdentity).toBe('c');
    expect(lease.spec?.leaseTransitions).toBe(2);
    await cm('three');
    await waitFor('c reconciles', () => reconciledBy('three').length > 0, 20_000);
    expect(reconciledBy('three')).toEqual(['c']);
    expect(overlaps).toEqual([]);
  });
});

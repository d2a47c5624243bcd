import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HSM_METRIC_NAME_LIST, PROVISIONING_STATES, createHsmMetrics, type HsmMetrics } from '../../../src/observability/hsm-metrics.js';

type Sample = { labels: Record<string, string | number>; value: number };

async function samples(registry: Registry, name: string): Promise<Sample[]> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`${name} is not registered`);
  return (await metric.get()).values.map((v) => ({ labels: { ...v.labels } as Record<string, string | number>, value: v.value }));
}

async function value(registry: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const hits = (await samples(registry, name)).filter((s) => Object.entries(labels).every(([k, v]) => String(s.labels[k]) === v));
  if (hits.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${hits.length} series`);
  return hits[0]?.value;
}

function setup(start = Date.parse('2025-01-01T00:00:00Z')): { registry: Registry; m: HsmMetrics; clock: { t: number } } {
  const registry = new Registry();
  const clock = { t: start };
  return { registry, m: createHsmMetrics(registry, { now: () => clock.t }), clock };
}

const hsm1 = { namespace: 'prod', name: 'hsm-1' };

describe('createHsmMetrics', () => {
  it('registers every listed name, and only those, in the given registry', async () => {
    const { registry } = setup();
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name).sort();
    expect(names).toEqual([...HSM_METRIC_NAME_LIST].sort());
    expect(HSM_METRIC_NAME_LIST.every((n) => n.startsWith('hsm_operator_'))).toBe(true);
  });

  it('keeps two registries apart and refuses a second set in one registry', () => {
    const a = new Registry();
    createHsmMetrics(a);
    expect(() => createHsmMetrics(new Registry())).not.toThrow();
    expect(() => createHsmMetrics(a)).toThrow(/already been registered/);
  });

  it('starts counters of known label values at zero so increase() sees the first event', async () => {
    const { registry } = setup();
    expect(await value(registry, 'hsm_operator_deployment_attempts_total', { class: 'race' })).toBe(0);
    expect(await value(registry, 'hsm_operator_credential_refusals_total', { role: 'appliance-ssh' })).toBe(0);
    expect(await value(registry, 'hsm_operator_hagroup_recoveries_total', { outcome: 'circuitOpen' })).toBe(0);
    expect(await value(registry, 'hsm_operator_ntls_drift_total', { kind: 'serverCert' })).toBe(0);
  });

  it('counts events by their label', async () => {
    const { registry, m } = setup();
    m.deploymentAttempts.inc({ class: 'race' });
    m.deploymentAttempts.inc({ class: 'race' });
    m.deploymentAttempts.inc({ class: 'succeeded' });
    m.ntlsDrift.inc({ kind: 'partitions' });
    m.ntlsRepush.inc({ outcome: 'failed' });
    m.haRecoveries.inc({ outcome: 'rateLimited' });
    m.credentialRefusals.inc({ role: 'hagroup-password' });
    expect(await value(registry, 'hsm_operator_deployment_attempts_total', { class: 'race' })).toBe(2);
    expect(await value(registry, 'hsm_operator_deployment_attempts_total', { class: 'succeeded' })).toBe(1);
    expect(await value(registry, 'hsm_operator_deployment_attempts_total', { class: 'quota' })).toBe(0);
    expect(await value(registry, 'hsm_operator_ntls_drift_total', { kind: 'partitions' })).toBe(1);
    expect(await value(registry, 'hsm_operator_ntls_repush_total', { outcome: 'failed' })).toBe(1);
    expect(await value(registry, 'hsm_operator_hagroup_recoveries_total', { outcome: 'rateLimited' })).toBe(1);
    expect(await value(registry, 'hsm_operator_credential_refusals_total', { role: 'hagroup-password' })).toBe(1);
  });

  it('reports the provisioning state one-hot, including a state ARM adds later', async () => {
    const { registry, m } = setup();
    const name = 'hsm_operator_dedicatedhsm_provisioning_state';
    m.setProvisioningState(hsm1, 'Provisioning');
    let got = await samples(registry, name);
    expect(got).toHaveLength(PROVISIONING_STATES.length);
    expect(got.filter((s) => s.value === 1).map((s) => s.labels.state)).toEqual(['Provisioning']);

    m.setProvisioningState(hsm1, 'Updating');
    got = await samples(registry, name);
    expect(got).toHaveLength(PROVISIONING_STATES.length + 1);
    expect(got.filter((s) => s.value === 1).map((s) => s.labels.state)).toEqual(['Updating']);

    m.setProvisioningState(hsm1, 'Succeeded');
    got = await samples(registry, name);
    expect(got.map((s) => s.labels.state)).not.toContain('Updating');
    expect(got.filter((s) => s.value === 1).map((s) => s.labels.state)).toEqual(['Succeeded']);

    m.setProvisioningState(hsm1, undefined);
    expect(await samples(registry, name)).toEqual([]);
  });

  it('ignores extra fields on the object reference instead of failing on unknown labels', async () => {
    const { registry, m } = setup();
    const rich = { ...hsm1, uid: 'u-1', kind: 'DedicatedHsm' };
    m.setApplianceReachable(rich, true);
    m.setProvisioningState(rich, 'Failed');
    expect(await value(registry, 'hsm_operator_appliance_reachable', hsm1)).toBe(1);
    expect(await value(registry, 'hsm_operator_dedicatedhsm_provisioning_state', { ...hsm1, state: 'Failed' })).toBe(1);
  });

  it('computes gateway wait and certificate expiry at scrape time from the clock', async () => {
    const { registry, m, clock } = setup();
    const binding = { namespace: 'apps', name: 'web' };
    m.setGatewayWaitSince(hsm1, new Date(clock.t - 90_000));
    m.setClientCertNotAfter(binding, new Date(clock.t + 14 * 86_400_000));
    expect(await value(registry, 'hsm_operator_gateway_wait_seconds', hsm1)).toBe(90);
    expect(await value(registry, 'hsm_operator_client_cert_expiry_seconds', binding)).toBe(14 * 86_400);

    clock.t += 86_400_000 * 15;
    expect(await value(registry, 'hsm_operator_gateway_wait_seconds', hsm1)).toBe(90 + 15 * 86_400);
    expect(await value(registry, 'hsm_operator_client_cert_expiry_seconds', binding)).toBe(-86_400);

    m.setGatewayWaitSince(hsm1, undefined);
    m.setClientCertNotAfter(binding, undefined);
    expect(await samples(registry, 'hsm_operator_gateway_wait_seconds')).toEqual([]);
    expect(await samples(registry, 'hsm_operator_client_cert_expiry_seconds')).toEqual([]);
  });

  it('replaces an HA group member list, dropping members that left', async () => {
    const { registry, m } = setup();
    const group = { namespace: 'prod', name: 'ha' };
    m.setHaMembers(group, [
      { serial: '1001', up: true },
      { serial: '1002', up: false },
    ]);
    expect(await value(registry, 'hsm_operator_hagroup_member_up', { group: 'ha', serial: '1002' })).toBe(0);
    m.setHaMembers(group, [
      { serial: '1001', up: true },
      { serial: '1003', up: true },
    ]);
    const got = await samples(registry, 'hsm_operator_hagroup_member_up');
    expect(got.map((s) => [s.labels.namespace, s.labels.group, s.labels.serial, s.value])).toEqual([
      ['prod', 'ha', '1001', 1],
      ['prod', 'ha', '1003', 1],
    ]);
  });

  it('removes the reboot patch series while the patch state is unknown', async () => {
    const { registry, m } = setup();
    m.setRebootPatchInstalled(hsm1, false);
    expect(await value(registry, 'hsm_operator_reboot_patch_installed', hsm1)).toBe(0);
    m.setRebootPatchInstalled(hsm1, undefined);
    expect(await samples(registry, 'hsm_operator_reboot_patch_installed')).toEqual([]);
  });

  it('forgets every series of a deleted object and only of that object', async () => {
    const { registry, m, clock } = setup();
    const hsm2 = { namespace: 'prod', name: 'hsm-2' };
    for (const h of [hsm1, hsm2]) {
      m.setProvisioningState(h, 'Weird');
      m.setGatewayWaitSince(h, new Date(clock.t));
      m.setApplianceReachable(h, false);
      m.setRebootPatchInstalled(h, true);
      m.setReady('DedicatedHsm', h, false);
    }
    m.setReady('NtlsClientBinding', hsm1, true); // same namespace/name, other kind: must survive
    m.setClientCertNotAfter(hsm1, new Date(clock.t));
    const group = { namespace: 'prod', name: 'ha' };
    m.setHaMembers(group, [{ serial: '7', up: true }]);
    m.setReady('HsmHaGroup', group, true);

    m.forget('DedicatedHsm', hsm1);
    m.forget('HsmHaGroup', group);

    const leftovers = (await registry.getMetricsAsJSON()).flatMap((metric) =>
      metric.values
        .map((v) => v.labels as Record<string, string>)
        .filter((l) => (l.name === 'hsm-1' && l.kind !== 'NtlsClientBinding' && metric.name !== 'hsm_operator_client_cert_expiry_seconds') || l.group === 'ha')
        .map((l) => `${metric.name}${JSON.stringify(l)}`),
    );
    expect(leftovers).toEqual([]);
    expect(await value(registry, 'hsm_operator_resource_ready', { kind: 'NtlsClientBinding', ...hsm1 })).toBe(1);
    expect(await value(registry, 'hsm_operator_appliance_reachable', hsm2)).toBe(0);
    expect(await value(registry, 'hsm_operator_dedicatedhsm_provisioning_state', { ...hsm2, state: 'Weird' })).toBe(1);
    expect(await value(registry, 'hsm_operator_gateway_wait_seconds', hsm2)).toBe(0);
    expect(await value(registry, 'hsm_operator_resource_ready', { kind: 'HsmHaGroup', ...group })).toBeUndefined();

    m.forget('NtlsClientBinding', hsm1);
    expect(await samples(registry, 'hsm_operator_client_cert_expiry_seconds')).toEqual([]);
  });
});

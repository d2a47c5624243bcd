/**
 * config/samples/ as the sandbox applies it: the platform team's namespace and app team A's, every placeholder
 * replaced by the world's values, nothing else changed; the grant admits exactly what the app team's bindings ask
 * for on the sandbox world's partitions; and the samples move to other namespaces whole.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HsmGrant, HsmHaGroup, NtlsClientBinding } from '../../../src/api/index.js';
import { packageRoot } from '../../../src/cli/paths.js';
import { decideGrant, hsmAddress, partitionGranted, type GrantRequest } from '../../../src/controllers/shared/grants.js';
import type { Manifest } from '../../../src/sandbox/manifests.js';
import { sandboxWorldOptions } from '../../../src/sandbox/run.js';
import { inNamespaces, loadSamples, prepareSamples, sample, SAMPLE_NAMESPACES, type SampleFacts } from '../../../src/sandbox/samples.js';

const samplesDir = join(packageRoot, 'config', 'samples');
const sub = '00000000-0000-0000-0000-000000000001';
const facts: SampleFacts = {
  hostKeys: { hsm1: 'SHA256:one', hsm2: 'SHA256:two', lunacm: 'SHA256:cm' },
  passwords: { appliance: 'pw-appliance', lunacm: 'pw-lunacm', partition: 'pw-partition' },
  azure: {
    subscriptionId: sub,
    resourceGroup: 'hsm-rg',
    location: 'eastus',
    subnetId: `/subscriptions/${sub}/resourceGroups/hsm-rg/providers/Microsoft.Network/virtualNetworks/hsm-vnet/subnets/hsmsubnet`,
    gatewayId: `/subscriptions/${sub}/resourceGroups/hsm-rg/providers/Microsoft.Network/virtualNetworkGateways/hsm-ergw`,
  },
  intervals: { pollInterval: '5s' },
};
const issued: { hostname?: string; ip?: string }[] = [];
const issue = async (id: { hostname?: string; ip?: string }) => {
  issued.push(id);
  return { certPem: `CERT for ${id.ip ?? id.hostname}`, keyPem: 'KEY' };
};

describe('sandbox samples', () => {
  it('loads what the kustomizations list, in their order: the platform team\'s namespace, then app team A\'s', () => {
    const m = loadSamples(samplesDir);
    const p = SAMPLE_NAMESPACES.platform;
    const a = SAMPLE_NAMESPACES.app;
    expect(m.map((x) => `${x.metadata.namespace}/${x.kind}/${x.metadata.name}`)).toEqual([
      `${p}/Secret/hsm-eastus-1-appliance`,
      `${p}/Secret/hsm-eastus-2-appliance`,
      `${p}/DedicatedHsm/hsm-eastus-1`,
      `${p}/DedicatedHsm/hsm-eastus-2`,
      `${p}/Secret/luna-client-ssh`,
      `${p}/Secret/payments-ha-password`,
      `${p}/HsmHaGroup/payments-ha`,
      `${p}/HsmGrant/app-team-a`,
      `${a}/NtlsClientBinding/app-a`,
      `${a}/Secret/app-b-tls`,
      `${a}/NtlsClientBinding/app-b`,
    ]);
    // Names are unique across both namespaces (the sandbox's scenarios find objects by kind and name).
    expect(new Set(m.map((x) => `${x.kind}/${x.metadata.name}`)).size).toBe(m.length);
  });

  it('the app team\'s bindings ask only for what the platform team\'s grant admits, on partitions the sandbox appliances have', () => {
    const m = loadSamples(samplesDir);
    const grant = sample(m, 'HsmGrant', 'app-team-a') as unknown as HsmGrant;
    const labels = new Set((sandboxWorldOptions().hsms ?? []).flatMap((h) => (h.partitions ?? []).map((x) => `${h.name}/${x.label}`)));
    const bindings = m.filter((x) => x.kind === 'NtlsClientBinding') as unknown as NtlsClientBinding[];
    expect(bindings.map((b) => b.metadata.name)).toEqual(['app-a', 'app-b']);
    const requests: GrantRequest[] = bindings.flatMap((b, i) =>
      b.spec.targets.map((t) => ({
        kind: 'NtlsClientBinding' as const,
        namespace: b.metadata.namespace ?? '',
        uid: `uid-${b.metadata.name}`,
        createdAt: `2026-01-01T00:00:0${i}Z`,
        hsm: hsmAddress(b.metadata.namespace ?? '', t.dedicatedHsmRef),
        partitions: t.partitions,
        clientName: b.spec.clientName,
      })),
    );
    expect(requests).toHaveLength(4);
    for (const r of requests) {
      // Across namespaces, into the platform team's namespace, where the grant lives.
      expect(r.hsm).toMatchObject({ namespace: SAMPLE_NAMESPACES.platform, crossNamespace: true });
      expect(r.hsm.namespace).toBe(grant.metadata.namespace);
      expect(decideGrant(r, [grant], () => undefined, requests), `${r.clientName} on ${r.hsm.name}`).toMatchObject({ granted: true, grant: { name: 'app-team-a' } });
      for (const p of r.partitions) expect(labels.has(`${r.hsm.name}/${p}`), `${r.hsm.name}/${p}`).toBe(true);
    }
    // The platform team's own partition exists on every appliance and is not granted; neither is a name outside the prefix.
    for (const h of sandboxWorldOptions().hsms ?? []) expect(labels.has(`${h.name}/platform-par`)).toBe(true);
    expect(partitionGranted(grant.spec.partitions, 'platform-par')).toBe(false);
    const first = requests[0] as GrantRequest;
    expect(decideGrant({ ...first, partitions: ['platform-par'] }, [grant], () => undefined, [])).toMatchObject({ granted: false });
    expect(decideGrant({ ...first, clientName: 'app-a' }, [grant], () => undefined, [])).toMatchObject({ granted: false });
    expect(decideGrant({ ...first, namespace: 'another-team' }, [grant], () => undefined, [])).toMatchObject({ granted: false });
  });

  it('the HA group stays with the platform team: its members are in its namespace, on a partition every sandbox appliance has in one cloning domain', () => {
    const m = loadSamples(samplesDir);
    const group = sample(m, 'HsmHaGroup', 'payments-ha') as unknown as HsmHaGroup;
    expect(group.metadata.namespace).toBe(SAMPLE_NAMESPACES.platform);
    const hsms = sandboxWorldOptions().hsms ?? [];
    const domains = new Set<string | undefined>();
    for (const member of group.spec.members) {
      expect(member.dedicatedHsmRef.namespace).toBeUndefined();
      const part = hsms.find((h) => h.name === member.dedicatedHsmRef.name)?.partitions?.find((x) => x.label === member.partitionLabel);
      expect(part, `${member.dedicatedHsmRef.name}/${member.partitionLabel}`).toBeDefined();
      domains.add(part?.cloningDomain);
    }
    expect(group.spec.members).toHaveLength(2);
    expect(domains.size).toBe(1);
  });

  it('moves the samples to other namespaces whole: objects, the namespaces the grant admits, the references', () => {
    const raw = loadSamples(samplesDir);
    const moved = inNamespaces(raw, { [SAMPLE_NAMESPACES.platform]: 'p-1', [SAMPLE_NAMESPACES.app]: 'a-1' });
    expect(new Set(moved.map((x) => x.metadata.namespace))).toEqual(new Set(['p-1', 'a-1']));
    expect(sample(moved, 'DedicatedHsm', 'hsm-eastus-1').metadata.namespace).toBe('p-1');
    expect((sample(moved, 'HsmGrant', 'app-team-a').spec as HsmGrant['spec']).namespaces).toEqual(['a-1']);
    const b = sample(moved, 'NtlsClientBinding', 'app-b') as unknown as NtlsClientBinding;
    expect(b.metadata.namespace).toBe('a-1');
    expect(b.spec.targets.map((t) => t.dedicatedHsmRef)).toEqual([
      { namespace: 'p-1', name: 'hsm-eastus-1' },
      { namespace: 'p-1', name: 'hsm-eastus-2' },
    ]);
    // The input is not modified.
    expect(sample(raw, 'NtlsClientBinding', 'app-b').metadata.namespace).toBe(SAMPLE_NAMESPACES.app);
    // One namespace for both: every reference names its own namespace, a same-namespace reference.
    const one = inNamespaces(raw, { [SAMPLE_NAMESPACES.platform]: 'solo', [SAMPLE_NAMESPACES.app]: 'solo' });
    for (const t of (sample(one, 'NtlsClientBinding', 'app-a') as unknown as NtlsClientBinding).spec.targets) expect(hsmAddress('solo', t.dedicatedHsmRef).crossNamespace).toBe(false);
    // A namespace nobody chose is refused.
    expect(() => inNamespaces(raw, { [SAMPLE_NAMESPACES.platform]: 'p-1' })).toThrow(/NtlsClientBinding\/app-a: namespace hsm-app-a is not mapped/);
  });

  it('replaces every placeholder with the world: host keys, passwords by role, a real certificate for app-b', async () => {
    const raw = loadSamples(samplesDir);
    const m = await prepareSamples(raw, facts, issue);
    expect(JSON.stringify(m)).not.toMatch(/PLACEHOLDER|CHANGE-ME|REPLACE-WITH/);
    expect(sample(m, 'DedicatedHsm', 'hsm-eastus-1').spec).toMatchObject({ appliance: { hostKey: 'SHA256:one' } });
    expect(sample(m, 'DedicatedHsm', 'hsm-eastus-2').spec).toMatchObject({ appliance: { hostKey: 'SHA256:two' } });
    expect(sample(m, 'HsmHaGroup', 'payments-ha').spec).toMatchObject({ client: { hostKey: 'SHA256:cm' }, pollInterval: '5s' });
    expect(sample(m, 'Secret', 'hsm-eastus-1-appliance').stringData).toEqual({ password: 'pw-appliance' });
    expect(sample(m, 'Secret', 'luna-client-ssh').stringData).toEqual({ password: 'pw-lunacm' });
    expect(sample(m, 'Secret', 'payments-ha-password').stringData).toEqual({ password: 'pw-partition' });
    expect(sample(m, 'Secret', 'app-b-tls').stringData).toEqual({ 'tls.crt': 'CERT for 10.10.1.20', 'tls.key': 'KEY' });
    expect(issued).toEqual([{ ip: '10.10.1.20' }]);
    // Everything else as written; the input is not modified.
    expect(sample(m, 'NtlsClientBinding', 'app-a').spec).toEqual(sample(raw, 'NtlsClientBinding', 'app-a').spec);
    expect(sample(raw, 'DedicatedHsm', 'hsm-eastus-1').spec).toMatchObject({ appliance: { hostKey: expect.stringMatching(/PLACEHOLDER/) } });
  });

  it('refuses samples that no longer fit the world', async () => {
    const raw = loadSamples(samplesDir);
    await expect(prepareSamples(raw, { ...facts, hostKeys: { hsm1: 'x' } }, issue)).rejects.toThrow(/no simulator for host-key placeholder/);
    const moved = structuredClone(raw) as Manifest[];
    (sample(moved, 'DedicatedHsm', 'hsm-eastus-2').spec as { azure: { resourceGroup: string } }).azure.resourceGroup = 'elsewhere';
    await expect(prepareSamples(moved, facts, issue)).rejects.toThrow(/resourceGroup is elsewhere/);
  });
});

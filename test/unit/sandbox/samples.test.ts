/** config/samples/ as the sandbox applies it: every placeholder replaced by the world's values, nothing else changed. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../../src/cli/paths.js';
import type { Manifest } from '../../../src/sandbox/manifests.js';
import { loadSamples, prepareSamples, sample, type SampleFacts } from '../../../src/sandbox/samples.js';

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
  it('loads what kustomization.yaml lists, in its order', () => {
    const m = loadSamples(samplesDir);
    expect(m.map((x) => `${x.kind}/${x.metadata.name}`)).toEqual([
      'Secret/hsm-eastus-1-appliance',
      'Secret/hsm-eastus-2-appliance',
      'DedicatedHsm/hsm-eastus-1',
      'DedicatedHsm/hsm-eastus-2',
      'Secret/luna-client-ssh',
      'Secret/payments-ha-password',
      'HsmHaGroup/payments-ha',
      'NtlsClientBinding/app-a',
      'Secret/app-b-tls',
      'NtlsClientBinding/app-b',
    ]);
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

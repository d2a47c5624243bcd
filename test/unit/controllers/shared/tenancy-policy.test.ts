/** The tenancy policy file: read and checked at start, every problem named, nothing guessed. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTenancyPolicy, parseTenancyPolicy, TenancyPolicyError } from '../../../../src/controllers/shared/tenancy-policy.js';
import { parseRunArgs } from '../../../../src/cli/run.js';
import { UsageError } from '../../../../src/cli/io.js';

const SUB_A = '00000000-0000-0000-0000-0000000000a1';
const SUB_B = '00000000-0000-0000-0000-0000000000B2';

const POLICY = `
globalIdentity: onlyListed
namespaces:
  - names: [platform-hsm]
    identity: operator
    subscriptions:
      - id: ${SUB_A}
        resourceGroups: ["*"]
  - names: [team-a, team-a-staging]
    identity:
      secretName: sp-team-a
      clientSecretKey: password
    tenantCredentials: refused
    subscriptions:
      - id: ${SUB_B}
        resourceGroups: [RG-Team-A]
`;

describe('tenancy policy: parse', () => {
  it('reads namespaces, identities (Secrets in the operator namespace, default keys), lower-cased subscriptions and resource groups', () => {
    const p = parseTenancyPolicy(POLICY, 'hsm-system');
    expect(p.globalIdentity).toBe('onlyListed');
    expect([...p.namespaces.keys()]).toEqual(['platform-hsm', 'team-a', 'team-a-staging']);
    expect(p.namespaces.get('platform-hsm')).toEqual({ identity: { kind: 'operator' }, tenantCredentials: 'allowed', subscriptions: new Map([[SUB_A, new Set(['*'])]]) });
    expect(p.namespaces.get('team-a')).toEqual({
      identity: { kind: 'secret', namespace: 'hsm-system', name: 'sp-team-a', tenantIdKey: 'tenantId', clientIdKey: 'clientId', clientSecretKey: 'password' },
      tenantCredentials: 'refused',
      subscriptions: new Map([[SUB_B.toLowerCase(), new Set(['rg-team-a'])]]),
    });
  });

  it('an empty document: allNamespaces, nobody named (what the chart renders by default is no file at all)', () => {
    expect(parseTenancyPolicy('', 'ns')).toMatchObject({ globalIdentity: 'allNamespaces', namespaces: new Map() });
  });

  it.each([
    ['a misspelt field', 'globalIdentitiy: onlyListed', /invalid: .*globalIdentitiy/],
    ['an unknown switch value', 'globalIdentity: none', /invalid: \/globalIdentity/],
    ['a subscription that is not a GUID', `namespaces: [{names: [a], identity: operator, subscriptions: [{id: sub-a, resourceGroups: ["*"]}]}]`, /\/namespaces\/0\/subscriptions\/0\/id/],
    ['no resource groups', `namespaces: [{names: [a], identity: operator, subscriptions: [{id: ${SUB_A}, resourceGroups: []}]}]`, /resourceGroups/],
    ['a namespace in two entries', `namespaces: [{names: [a], identity: operator, subscriptions: [{id: ${SUB_A}, resourceGroups: [x]}]}, {names: [a], identity: operator, subscriptions: [{id: ${SUB_A}, resourceGroups: [y]}]}]`, /namespace a is named in two entries/],
    ['a subscription twice', `namespaces: [{names: [a], identity: operator, subscriptions: [{id: ${SUB_A}, resourceGroups: [x]}, {id: ${SUB_A}, resourceGroups: [y]}]}]`, /listed twice/],
    ['an identity Secret named by a tenant-ish field', `namespaces: [{names: [a], identity: {secretName: x, namespace: team-a}, subscriptions: [{id: ${SUB_A}, resourceGroups: [x]}]}]`, /\/namespaces\/0\/identity/],
    ['not YAML', 'namespaces: [', /not YAML/],
  ])('refuses %s, naming it', (_what, text, message) => {
    expect(() => parseTenancyPolicy(text, 'ns', 'tenancy policy p.yaml')).toThrow(TenancyPolicyError);
    expect(() => parseTenancyPolicy(text, 'ns', 'tenancy policy p.yaml')).toThrow(message);
  });

  it('run --tenancy-policy: read at start with the operator namespace; a bad or missing file is a usage error naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tenancy-'));
    const good = join(dir, 'policy.yaml');
    writeFileSync(good, POLICY);
    const r = parseRunArgs(['--tenancy-policy', good, '--leader-election-namespace', 'ops'], {});
    if (r.help) throw new Error('help');
    expect(r.tenancy?.namespaces.get('team-a')?.identity).toMatchObject({ kind: 'secret', namespace: 'ops' });
    const viaEnv = parseRunArgs([], { HSM_OPERATOR_TENANCY_POLICY: good, POD_NAMESPACE: 'ops2' });
    expect(!viaEnv.help && viaEnv.tenancy?.globalIdentity).toBe('onlyListed');
    const none = parseRunArgs([], {});
    expect(!none.help && none.tenancy).toBeUndefined();
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'globalIdentity: sometimes');
    expect(() => parseRunArgs(['--tenancy-policy', bad], {})).toThrow(UsageError);
    expect(() => parseRunArgs(['--tenancy-policy', bad], {})).toThrow(`--tenancy-policy: tenancy policy ${bad} is invalid`);
    expect(() => loadTenancyPolicy(join(dir, 'missing.yaml'), 'ns')).toThrow(/cannot read .*missing\.yaml/);
  });
});

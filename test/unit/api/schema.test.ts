/** The schemas behind the CRDs: structural, described, bounded for CEL, and the same patterns work in JS. */
import { readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { crdFor, missingDescriptions, rootSchema, structural, type JsonObject, type JsonValue } from '../../../src/api/crd.js';
import {
  DedicatedHsmSpecSchema,
  HsmGrantSpecSchema,
  HsmHaGroupSpecSchema,
  KINDS,
  HsmGrantDefinition,
  NtlsClientBindingSpecSchema,
  Patterns,
  SKU_A790,
  outputSecretName,
} from '../../../src/api/index.js';

import { sampleFiles } from '../../../src/sandbox/samples.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Calls `visit` for every schema node with its path. */
function walk(node: JsonValue | undefined, path: string, visit: (n: JsonObject, p: string) => void): void {
  if (!isObject(node)) return;
  visit(node, path);
  if (isObject(node.properties)) for (const [k, v] of Object.entries(node.properties)) walk(v, `${path}.${k}`, visit);
  if (isObject(node.items)) walk(node.items, `${path}[]`, visit);
  if (isObject(node.additionalProperties)) walk(node.additionalProperties, `${path}{}`, visit);
}

const kinds = KINDS.map((def) => [def.kind, def, rootSchema(def)] as const);
/** The kinds the operator reconciles and reports on (HsmGrant is a statement of policy, with no status). */
const reported = kinds.filter(([, def]) => def.status !== undefined);

describe('CRD schemas', () => {
  it.each(kinds)('%s: every spec and status field has a description', (_kind, _def, root) => {
    const props = root.properties as JsonObject;
    expect(missingDescriptions(props.spec, 'spec')).toEqual([]);
    expect(missingDescriptions(props.status, 'status')).toEqual([]);
    expect(String(root.description).length).toBeGreaterThan(20);
  });

  it('missingDescriptions finds an undescribed field (the check can fail)', () => {
    const s = structural(Type.Object({ a: Type.String({ description: 'x' }), b: Type.Object({ c: Type.Integer() }, { description: 'y' }) }));
    expect(missingDescriptions(s)).toEqual(['b.c']);
  });

  it('refuses non-structural constructs', () => {
    expect(() => structural(Type.Union([Type.Literal('a'), Type.Literal('b')]))).toThrow(/anyOf/);
    expect(() => structural(Type.Object({ m: Type.Record(Type.String(), Type.String()) }))).toThrow(/patternProperties/);
  });

  it.each(kinds)('%s: no preserve-unknown-fields, every node typed, defaulted fields never required', (_kind, _def, root) => {
    walk(root, '', (n, p) => {
      expect(n['x-kubernetes-preserve-unknown-fields'], p).toBeUndefined();
      expect(typeof n.type, p).toBe('string');
      const required = Array.isArray(n.required) ? n.required : [];
      if (isObject(n.properties)) for (const r of required) expect(isObject(n.properties[String(r)]) && 'default' in (n.properties[String(r)] as JsonObject), `${p}.${String(r)}`).toBe(false);
    });
  });

  it.each(kinds)('%s: spec strings and arrays are bounded (keeps CEL cost estimates low)', (_kind, _def, root) => {
    walk((root.properties as JsonObject).spec, 'spec', (n, p) => {
      if (n.type === 'string' && !Array.isArray(n.enum)) expect(n.maxLength, p).toBeTypeOf('number');
      if (n.type === 'array') expect(n.maxItems, p).toBeTypeOf('number');
      if (n.type === 'object' && isObject(n.additionalProperties)) expect(n.maxProperties, p).toBeTypeOf('number');
    });
  });

  it.each(reported)('%s: status subresource, printer columns with Ready/Reason/Age, short name and hsm category', (kind, def) => {
    const crd = crdFor(def) as { spec: { names: JsonObject; versions: JsonObject[] } };
    const version = crd.spec.versions[0]!;
    expect(version.subresources).toEqual({ status: {} });
    const cols = (version.additionalPrinterColumns as { name: string; jsonPath: string }[]).map((c) => c.name.toUpperCase());
    expect(cols[0]).toBe('READY');
    expect(cols[1]).toBe('REASON');
    expect(cols.at(-1)).toBe('AGE');
    expect(crd.spec.names.categories).toEqual(['hsm']);
    expect(crd.spec.names.shortNames).toEqual([{ DedicatedHsm: 'dhsm', NtlsClientBinding: 'ntlsb', HsmHaGroup: 'hsmha' }[kind]]);
  });

  it('HsmGrant: no status subresource (nothing reports on it), printer columns of its bounds, short name and hsm category', () => {
    const crd = crdFor(HsmGrantDefinition) as { spec: { names: JsonObject; versions: JsonObject[] } };
    const version = crd.spec.versions[0]!;
    expect(version.subresources).toBeUndefined();
    expect(((version.schema as JsonObject).openAPIV3Schema as JsonObject).properties).not.toHaveProperty('status');
    expect((version.additionalPrinterColumns as { name: string }[]).map((c) => c.name.toUpperCase())).toEqual(['HSMS', 'NAMESPACES', 'PARTITIONS', 'REVOCATION', 'AGE']);
    expect(crd.spec.names.shortNames).toEqual(['hsmg']);
    expect(crd.spec.names.categories).toEqual(['hsm']);
  });

  it('printer columns name the key fields of each kind', () => {
    const names = Object.fromEntries(KINDS.map((d) => [d.kind, d.printerColumns.filter((c) => !c.priority).map((c) => c.name.toUpperCase())]));
    expect(names.DedicatedHsm).toEqual(['READY', 'REASON', 'PROVISIONING', 'IP', 'STAMP', 'SOFTWARE', 'FIRMWARE', 'REBOOT-PATCH', 'AGE']);
    expect(names.NtlsClientBinding).toEqual(['READY', 'REASON', 'TARGETS', 'IN-SYNC', 'AGE']);
    expect(names.HsmHaGroup).toEqual(['READY', 'REASON', 'MEMBERS', 'ALIVE', 'AGE']);
  });

  it.each(reported)('%s: conditions are metav1.Conditions in a map keyed by type', (_kind, _def, root) => {
    const conditions = ((root.properties as JsonObject).status as JsonObject).properties as JsonObject;
    const c = conditions.conditions as JsonObject;
    expect(c['x-kubernetes-list-type']).toBe('map');
    expect(c['x-kubernetes-list-map-keys']).toEqual(['type']);
    expect((c.items as JsonObject).required).toEqual(['type', 'status', 'lastTransitionTime', 'reason', 'message']);
  });

  it('every transition rule (oldSelf) tells the user what to do', () => {
    const messages: string[] = [];
    for (const [, def, root] of kinds) {
      walk(root, def.kind, (n) => {
        const rules = n['x-kubernetes-validations'];
        if (Array.isArray(rules)) for (const r of rules) if (isObject(r) && String(r.rule).includes('oldSelf')) messages.push(String(r.message));
      });
    }
    expect(messages.length).toBeGreaterThanOrEqual(12);
    for (const m of messages) expect(m).toMatch(/is immutable\b.*: .*create a new (DedicatedHsm|NtlsClientBinding|HsmHaGroup)\b/);
  });
});

describe('patterns (the same strings the API server uses, run by JS)', () => {
  const re = (p: string) => new RegExp(p);
  const sub = '00000000-0000-0000-0000-000000000001';
  it('subnet IDs: right shape, any case in the provider segments', () => {
    const ok = `/subscriptions/${sub}/resourceGroups/hsm-rg/providers/Microsoft.Network/virtualNetworks/hsm-vnet/subnets/hsmsubnet`;
    expect(re(Patterns.subnetId).test(ok)).toBe(true);
    expect(re(Patterns.subnetId).test(ok.toLowerCase())).toBe(true);
    expect(re(Patterns.subnetId).test(ok.replace('resourceGroups', 'RESOURCEGROUPS').replace('Microsoft.Network', 'microsoft.network'))).toBe(true);
    expect(re(Patterns.subnetId).test(ok.replace('/subnets/hsmsubnet', ''))).toBe(false);
    expect(re(Patterns.subnetId).test(ok.replace('Microsoft.Network', 'MicrosoftXNetwork'))).toBe(false);
    expect(re(Patterns.subnetId).test(ok.replace(sub, 'not-a-guid'))).toBe(false);
    expect(re(Patterns.subnetId).test(`${ok}/extra`)).toBe(false);
  });
  it('gateway IDs', () => {
    const ok = `/subscriptions/${sub}/resourceGroups/hsm-rg/providers/Microsoft.Network/virtualNetworkGateways/hsm-ergw`;
    expect(re(Patterns.gatewayId).test(ok)).toBe(true);
    expect(re(Patterns.gatewayId).test(ok.toUpperCase().replace(sub.toUpperCase(), sub))).toBe(true);
    expect(re(Patterns.gatewayId).test(ok.replace('virtualNetworkGateways', 'localNetworkGateways'))).toBe(false);
  });
  it('ARM names, IPv4, host key fingerprints, client names, serials, durations', () => {
    expect(['hsm1', 'a-b-c', 'x'.repeat(24)].every((s) => re(Patterns.armName).test(s))).toBe(true);
    expect(['ab', 'x'.repeat(25), 'a_b', 'a.b'].some((s) => re(Patterns.armName).test(s))).toBe(false);
    expect(['10.0.2.4', '255.255.255.255', '0.0.0.0'].every((s) => re(Patterns.ipv4).test(s))).toBe(true);
    expect(['10.0.2', '256.1.1.1', '1.2.3.4.5', '01.2.3.4'].some((s) => re(Patterns.ipv4).test(s))).toBe(false);
    expect(re(Patterns.sshFingerprint).test(`SHA256:${'A'.repeat(43)}`)).toBe(true);
    expect(re(Patterns.sshFingerprint).test(`SHA256:${'A'.repeat(42)}=`)).toBe(false);
    expect(re(Patterns.sshFingerprint).test('MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48')).toBe(false);
    expect(['app-a', 'A1.b_c-d', 'x'.repeat(64)].every((s) => re(Patterns.clientName).test(s))).toBe(true);
    expect(['-force', 'a b', 'x'.repeat(65), 'a;b'].some((s) => re(Patterns.clientName).test(s))).toBe(false);
    expect(re(Patterns.serial).test('154438865287')).toBe(true);
    expect(re(Patterns.serial).test('15443x')).toBe(false);
    expect(['30s', '5m', '1h', '1h30m', '1.5h', '250ms'].every((s) => re(Patterns.duration).test(s))).toBe(true);
    expect(['', '5', '90d', '1 h', '-5m'].some((s) => re(Patterns.duration).test(s))).toBe(false);
  });
});

describe('samples and TypeBox agree', () => {
  const samples = sampleFiles(join(repoRoot, 'config/samples')).flatMap(({ file }) =>
    parseAllDocuments(readFileSync(join(repoRoot, 'config/samples', file), 'utf8')).map((d) => [file, d.toJS() as { kind: string; metadata: { name: string }; spec?: unknown }] as const),
  );
  const schemas: Record<string, TSchema> = { DedicatedHsm: DedicatedHsmSpecSchema, NtlsClientBinding: NtlsClientBindingSpecSchema, HsmHaGroup: HsmHaGroupSpecSchema, HsmGrant: HsmGrantSpecSchema };

  it('there are two HSMs (stamp1, stamp2), one HA group, one grant, two bindings (generated, Secret)', () => {
    const byKind = (k: string) => samples.filter(([, m]) => m.kind === k).map(([, m]) => m);
    expect(byKind('DedicatedHsm').map((m) => (m.spec as { azure: { stampId: string } }).azure.stampId).sort()).toEqual(['stamp1', 'stamp2']);
    expect(byKind('HsmHaGroup')).toHaveLength(1);
    expect(byKind('HsmGrant')).toHaveLength(1);
    const certs = byKind('NtlsClientBinding').map((m) => Object.keys((m.spec as { certificate: object }).certificate).filter((k) => k !== 'renewBefore')[0]);
    expect(certs.sort()).toEqual(['generate', 'secretRef']);
    expect(samples.some(([, m]) => m.kind === 'Secret' && (m as { type?: string }).type === 'kubernetes.io/tls')).toBe(true);
  });

  it.each(samples.filter(([, m]) => m.kind in schemas))('%s passes Value.Check after Value.Default', (_file, m) => {
    const schema = schemas[m.kind]!;
    const spec = Value.Default(schema, structuredClone(m.spec));
    expect([...Value.Errors(schema, spec)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
    if (m.kind === 'DedicatedHsm') expect((spec as { azure: { sku: string } }).azure.sku).toBe(SKU_A790);
  });

  it('every sample host key line is easy to find and replace', () => {
    for (const f of ['platform/dedicatedhsm-stamp1.yaml', 'platform/dedicatedhsm-stamp2.yaml', 'platform/hsmhagroup.yaml']) {
      const text = readFileSync(join(repoRoot, 'config/samples', f), 'utf8');
      expect(text.match(/^\s+hostKey: SHA256:[A-Za-z0-9+/]{43}$/gm), f).toHaveLength(1);
    }
  });

  it('the default output Secret name is <name>-ntls', () => {
    expect(outputSecretName('app-a', {})).toBe('app-a-ntls');
    expect(outputSecretName('app-b', { outputSecretName: 'custom' })).toBe('custom');
  });
});

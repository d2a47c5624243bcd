/**
 * config/samples/ as the sandbox applies them: the files the kustomization lists, in its order, with the
 * placeholders a platform team would fill in replaced by the world's real values — pinned host keys, the
 * appliance / client host / partition passwords, a real client certificate for app-b — and shorter intervals
 * so the demo moves. Everything else is applied exactly as written.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import type { Manifest } from './manifests.js';

export interface SampleFacts {
  /** Host-key placeholder token (`hsm1`, `hsm2`, `lunacm` in `SHA256:PLACEHOLDER<token>hostkey...`) -> fingerprint. */
  hostKeys: Record<string, string>;
  passwords: { appliance: string; lunacm: string; partition: string };
  /** Where the samples must point (they are written for the sandbox's Azure ids). */
  azure: { subscriptionId: string; resourceGroup: string; location: string; subnetId: string; gatewayId: string };
  /** Shorter intervals for the demo (each optional). */
  intervals?: { driftCheckInterval?: string; pollInterval?: string; resyncInterval?: string };
}

/** Issues a client certificate for a binding's identity (the sandbox uses src/pki). */
export type CertificateIssuer = (identity: { hostname?: string; ip?: string }) => Promise<{ certPem: string; keyPem: string }>;

/** The manifests of the resources kustomization.yaml lists, in order. */
export function loadSamples(dir: string): Manifest[] {
  const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as { resources?: string[] };
  const out: Manifest[] = [];
  for (const file of k.resources ?? []) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0]?.message ?? 'invalid YAML'}`);
      const m = doc.toJS() as Manifest | null;
      if (m?.kind) out.push(m);
    }
  }
  return out;
}

const HOST_KEY_PLACEHOLDER = /^SHA256:PLACEHOLDER([A-Za-z0-9]+?)hostkey/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const at = (o: unknown, ...path: string[]): unknown => path.reduce<unknown>((v, k) => (isObj(v) ? v[k] : undefined), o);

function pinHostKey(holder: unknown, facts: SampleFacts, where: string): void {
  if (!isObj(holder) || typeof holder.hostKey !== 'string') return;
  const m = HOST_KEY_PLACEHOLDER.exec(holder.hostKey);
  if (!m) return;
  const real = facts.hostKeys[m[1] ?? ''];
  if (!real) throw new Error(`${where}: no simulator for host-key placeholder ${holder.hostKey}`);
  holder.hostKey = real;
}

function checkAzure(m: Manifest, facts: SampleFacts): void {
  const a = at(m, 'spec', 'azure');
  if (!isObj(a)) return;
  const want = { subscriptionId: facts.azure.subscriptionId, resourceGroup: facts.azure.resourceGroup, location: facts.azure.location, subnetId: facts.azure.subnetId, expressRouteGatewayId: facts.azure.gatewayId };
  for (const [k, v] of Object.entries(want)) {
    if (typeof a[k] === 'string' && (a[k] as string).toLowerCase() !== v.toLowerCase())
      throw new Error(`DedicatedHsm/${m.metadata.name}: spec.azure.${k} is ${String(a[k])}, but the sandbox world has ${v}`);
  }
}

/** Secret name -> which password it carries, from the references in the custom resources. */
function secretRoles(manifests: readonly Manifest[]): Map<string, keyof SampleFacts['passwords'] | 'tls'> {
  const roles = new Map<string, keyof SampleFacts['passwords'] | 'tls'>();
  const name = (ref: unknown) => (isObj(ref) && typeof ref.name === 'string' ? ref.name : undefined);
  for (const m of manifests) {
    const set = (ref: unknown, role: keyof SampleFacts['passwords'] | 'tls') => {
      const n = name(ref);
      if (n) roles.set(n, role);
    };
    if (m.kind === 'DedicatedHsm') set(at(m, 'spec', 'appliance', 'credentialsRef'), 'appliance');
    if (m.kind === 'HsmHaGroup') {
      set(at(m, 'spec', 'client', 'credentialsRef'), 'lunacm');
      set(at(m, 'spec', 'passwordSecretRef'), 'partition');
    }
    if (m.kind === 'NtlsClientBinding') set(at(m, 'spec', 'certificate', 'secretRef'), 'tls');
  }
  return roles;
}

function identityOfTlsSecret(manifests: readonly Manifest[], secret: string): { hostname?: string; ip?: string } {
  for (const m of manifests) {
    if (m.kind !== 'NtlsClientBinding' || at(m, 'spec', 'certificate', 'secretRef', 'name') !== secret) continue;
    const id = at(m, 'spec', 'identity');
    if (isObj(id)) return { ...(typeof id.hostname === 'string' ? { hostname: id.hostname } : {}), ...(typeof id.ip === 'string' ? { ip: id.ip } : {}) };
  }
  throw new Error(`Secret ${secret}: no NtlsClientBinding names it, so its identity is unknown`);
}

/** The samples with every placeholder replaced; throws when a sample no longer fits the world (a test catches it). */
export async function prepareSamples(samples: readonly Manifest[], facts: SampleFacts, issue: CertificateIssuer): Promise<Manifest[]> {
  const manifests = structuredClone(samples) as Manifest[];
  const roles = secretRoles(manifests);
  for (const m of manifests) {
    const where = `${m.kind}/${m.metadata.name}`;
    switch (m.kind) {
      case 'DedicatedHsm':
        checkAzure(m, facts);
        pinHostKey(at(m, 'spec', 'appliance'), facts, where);
        if (facts.intervals?.resyncInterval) (m.spec as Obj).resyncInterval = facts.intervals.resyncInterval;
        break;
      case 'HsmHaGroup':
        pinHostKey(at(m, 'spec', 'client'), facts, where);
        if (facts.intervals?.pollInterval) (m.spec as Obj).pollInterval = facts.intervals.pollInterval;
        break;
      case 'NtlsClientBinding':
        if (facts.intervals?.driftCheckInterval) (m.spec as Obj).driftCheckInterval = facts.intervals.driftCheckInterval;
        break;
      case 'Secret': {
        const role = roles.get(m.metadata.name);
        if (role === 'tls') {
          const pair = await issue(identityOfTlsSecret(manifests, m.metadata.name));
          m.stringData = { 'tls.crt': pair.certPem, 'tls.key': pair.keyPem };
        } else if (role) {
          const data = isObj(m.stringData) ? m.stringData : {};
          const keys = Object.keys(data);
          m.stringData = Object.fromEntries((keys.length ? keys : ['password']).map((k) => [k, facts.passwords[role]]));
        }
        break;
      }
    }
  }
  return manifests;
}

/** Finds one manifest by kind and name (scenarios tweak samples before they are applied). */
export function sample(manifests: readonly Manifest[], kind: string, name: string): Manifest {
  const m = manifests.find((x) => x.kind === kind && x.metadata.name === name);
  if (!m) throw new Error(`the samples have no ${kind}/${name}`);
  return m;
}

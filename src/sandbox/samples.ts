/**
 * config/samples/ as the sandbox applies them: the files the kustomizations list, in their order, each in the
 * namespace its kustomization sets (the platform team's and an app team's), with the placeholders a platform team
 * would fill in replaced by the world's real values — pinned host keys, the appliance / client host / partition
 * passwords, a real client certificate for app-b — and shorter intervals so the demo moves. Everything else is
 * applied exactly as written. Tests that need fresh namespaces move the samples with `inNamespaces`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
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

/** The platform team's namespace (HSMs, their Secrets, the grant, the HA group) and app team A's (bindings, their Secrets). */
export interface SampleNamespaces {
  platform: string;
  app: string;
}

/** The namespaces the samples are written for (config/samples/platform and config/samples/app-a). */
export const SAMPLE_NAMESPACES: Readonly<SampleNamespaces> = { platform: 'hsm-platform', app: 'hsm-app-a' };

/** One file a kustomization lists: its path under the samples' directory and the namespace a kustomization sets for it. */
export interface SampleFile {
  /** Relative to the directory given, `/`-separated (e.g. `platform/dedicatedhsm-stamp1.yaml`). */
  file: string;
  namespace: string | undefined;
}

/**
 * The files kustomization.yaml lists, in order; a directory listed is read through its own kustomization.yaml. A
 * kustomization's `namespace` applies to everything under it (kustomize's rule: the outer one wins).
 */
export function sampleFiles(dir: string, under = ''): SampleFile[] {
  const k = parse(readFileSync(join(dir, under, 'kustomization.yaml'), 'utf8')) as { resources?: string[]; namespace?: string };
  const out: SampleFile[] = [];
  for (const entry of k.resources ?? []) {
    const rel = under ? `${under}/${entry}` : entry;
    const path = join(dir, rel);
    if (existsSync(path) && statSync(path).isDirectory()) out.push(...sampleFiles(dir, rel));
    else out.push({ file: rel, namespace: undefined });
  }
  if (k.namespace) for (const f of out) f.namespace = k.namespace;
  return out;
}

/** The manifests of the files the kustomizations list, in order, each with the namespace its kustomization sets. */
export function loadSamples(dir: string): Manifest[] {
  const out: Manifest[] = [];
  for (const { file, namespace } of sampleFiles(dir)) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0]?.message ?? 'invalid YAML'}`);
      const m = doc.toJS() as Manifest | null;
      if (!m?.kind) continue;
      if (namespace) m.metadata.namespace = namespace;
      out.push(m);
    }
  }
  return out;
}

/**
 * The samples moved to other namespaces (`from` -> `to`): where each object lives, the namespaces a grant admits
 * and the namespaces references name. Every namespace an object lives in must be mapped, so nothing lands in a
 * namespace the caller did not choose. Two sample namespaces mapped to one give the old single-namespace story:
 * a reference that names its own namespace is a same-namespace reference.
 */
export function inNamespaces(manifests: readonly Manifest[], map: Readonly<Record<string, string>>): Manifest[] {
  const to = (ns: string) => map[ns] ?? ns;
  const out = structuredClone(manifests) as Manifest[];
  for (const m of out) {
    const ns = m.metadata.namespace;
    if (ns === undefined || map[ns] === undefined) throw new Error(`${m.kind}/${m.metadata.name}: namespace ${ns ?? '(none)'} is not mapped`);
    m.metadata.namespace = to(ns);
    const refs = m.kind === 'NtlsClientBinding' ? at(m, 'spec', 'targets') : m.kind === 'HsmHaGroup' ? at(m, 'spec', 'members') : undefined;
    if (Array.isArray(refs)) for (const r of refs) {
      const ref = at(r, 'dedicatedHsmRef');
      if (isObj(ref) && typeof ref.namespace === 'string') ref.namespace = to(ref.namespace);
    }
    const admitted = at(m, 'spec', 'namespaces');
    if (m.kind === 'HsmGrant' && Array.isArray(admitted)) (m.spec as Obj).namespaces = [...new Set(admitted.map((n) => (typeof n === 'string' ? to(n) : n)))];
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

/** `namespace/name` of a Secret a custom resource names (Secrets are always read in the resource's own namespace). */
const secretKey = (m: Manifest, name: string) => `${m.metadata.namespace ?? ''}/${name}`;

/** Secret (`namespace/name`) -> which password it carries, from the references in the custom resources. */
function secretRoles(manifests: readonly Manifest[]): Map<string, keyof SampleFacts['passwords'] | 'tls'> {
  const roles = new Map<string, keyof SampleFacts['passwords'] | 'tls'>();
  const name = (ref: unknown) => (isObj(ref) && typeof ref.name === 'string' ? ref.name : undefined);
  for (const m of manifests) {
    const set = (ref: unknown, role: keyof SampleFacts['passwords'] | 'tls') => {
      const n = name(ref);
      if (n) roles.set(secretKey(m, n), role);
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

function identityOfTlsSecret(manifests: readonly Manifest[], secret: Manifest): { hostname?: string; ip?: string } {
  for (const m of manifests) {
    if (m.kind !== 'NtlsClientBinding' || secretKey(m, String(at(m, 'spec', 'certificate', 'secretRef', 'name'))) !== secretKey(secret, secret.metadata.name)) continue;
    const id = at(m, 'spec', 'identity');
    if (isObj(id)) return { ...(typeof id.hostname === 'string' ? { hostname: id.hostname } : {}), ...(typeof id.ip === 'string' ? { ip: id.ip } : {}) };
  }
  throw new Error(`Secret ${secret.metadata.name}: no NtlsClientBinding names it, so its identity is unknown`);
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
        const role = roles.get(secretKey(m, m.metadata.name));
        if (role === 'tls') {
          const pair = await issue(identityOfTlsSecret(manifests, m));
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

/** Finds one manifest by kind and name, in any namespace (names are unique across the samples; scenarios tweak samples before they are applied). */
export function sample(manifests: readonly Manifest[], kind: string, name: string): Manifest {
  const m = manifests.find((x) => x.kind === kind && x.metadata.name === name);
  if (!m) throw new Error(`the samples have no ${kind}/${name}`);
  return m;
}

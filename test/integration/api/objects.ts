/** Paths and verbs for the objects the API tests create: Secrets and the three custom kinds. */
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { GROUP, KINDS, VERSION } from '../../../src/api/index.js';
import { call, type Endpoint, type Reply } from '../../support/http.js';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  spec?: Record<string, unknown>;
  [k: string]: unknown;
}

export function collectionPath(namespace: string, m: Pick<Manifest, 'apiVersion' | 'kind'>): string {
  if (m.apiVersion === 'v1' && m.kind === 'Secret') return `/api/v1/namespaces/${namespace}/secrets`;
  const def = KINDS.find((k) => k.kind === m.kind);
  if (m.apiVersion !== `${GROUP}/${VERSION}` || !def) throw new Error(`no path for ${m.apiVersion} ${m.kind}`);
  return `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${def.plural}`;
}

export function objectPath(namespace: string, m: Manifest): string {
  return `${collectionPath(namespace, m)}/${m.metadata.name}`;
}

/** Creates with strict field validation, as `kubectl apply` does. */
export function create(ep: Endpoint, namespace: string, m: Manifest): Promise<Reply> {
  return call(ep, 'POST', `${collectionPath(namespace, m)}?fieldValidation=Strict`, m);
}

export function get(ep: Endpoint, namespace: string, m: Manifest): Promise<Reply> {
  return call(ep, 'GET', objectPath(namespace, m));
}

export function mergePatch(ep: Endpoint, namespace: string, m: Manifest, patch: unknown): Promise<Reply> {
  return call(ep, 'PATCH', `${objectPath(namespace, m)}?fieldValidation=Strict`, patch, 'application/merge-patch+json');
}

export function remove(ep: Endpoint, namespace: string, m: Manifest): Promise<Reply> {
  return call(ep, 'DELETE', objectPath(namespace, m));
}

export function loadManifests(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

/**
 * What the runtime needs to know about an API resource and an object: where it lives (group/version/plural,
 * namespaced) and how it is keyed (`namespace/name`, or `name` for cluster-scoped objects).
 */

export interface ResourceType {
  /** API group; '' for the core group (ConfigMaps, Secrets). */
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
  /** Kind, filled into list items (the API omits it there). */
  kind?: string;
}

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  deletionTimestamp?: string | Date;
  creationTimestamp?: string | Date;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
  managedFields?: unknown[];
  [k: string]: unknown;
}

/** The shape every Kubernetes object shares. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [k: string]: unknown;
}

export const apiVersionOf = (t: ResourceType): string => (t.group ? `${t.group}/${t.version}` : t.version);

/** Human name of a resource type, used in metric labels and logs: `configmaps`, `dedicatedhsms.dedicatedhsm.io`. */
export const resourceName = (t: ResourceType): string => (t.group ? `${t.plural}.${t.group}` : t.plural);

export function objectKey(obj: KubeObject): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? '';
  return ns ? `${ns}/${name}` : name;
}

/** Namespace and name of an object (the label pair of per-object metric series). */
export interface ObjectRef {
  namespace: string;
  name: string;
}

export function refOf(obj: KubeObject): ObjectRef {
  return { namespace: obj.metadata?.namespace ?? '', name: obj.metadata?.name ?? '' };
}

export function splitKey(key: string): { namespace?: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export function keyOf(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

function prefix(t: ResourceType): string {
  return t.group ? `/apis/${t.group}/${t.version}` : `/api/${t.version}`;
}

/** Collection path; `namespace` undefined on a namespaced type means all namespaces. */
export function collectionPath(t: ResourceType, namespace?: string): string {
  if (t.namespaced && namespace) return `${prefix(t)}/namespaces/${encodeURIComponent(namespace)}/${t.plural}`;
  return `${prefix(t)}/${t.plural}`;
}

export function objectPath(t: ResourceType, namespace: string | undefined, name: string, subresource?: string): string {
  if (t.namespaced && !namespace) throw new Error(`${resourceName(t)} is namespaced: a namespace is required for ${name}`);
  const base = `${collectionPath(t, t.namespaced ? namespace : undefined)}/${encodeURIComponent(name)}`;
  return subresource ? `${base}/${subresource}` : base;
}

export const isDeleting = (obj: KubeObject): boolean => Boolean(obj.metadata?.deletionTimestamp);

/** Well-known types the runtime itself uses. */
export const CoreTypes = {
  configMaps: { group: '', version: 'v1', plural: 'configmaps', namespaced: true, kind: 'ConfigMap' },
  secrets: { group: '', version: 'v1', plural: 'secrets', namespaced: true, kind: 'Secret' },
  namespaces: { group: '', version: 'v1', plural: 'namespaces', namespaced: false, kind: 'Namespace' },
  leases: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespaced: true, kind: 'Lease' },
  events: { group: 'events.k8s.io', version: 'v1', plural: 'events', namespaced: true, kind: 'Event' },
} as const satisfies Record<string, ResourceType>;

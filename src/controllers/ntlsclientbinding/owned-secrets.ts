/**
 * Secrets the binding owns (the output Secret, a generated client certificate): read through the Secret cache (so
 * a change re-enqueues the binding), written only when their content differs, with an ownerReference to the
 * binding so the garbage collector removes them with it. A Secret of that name the binding does not own is never
 * overwritten.
 *
 * Read-your-writes: right after a write the cache may still hold the version we replaced; `read` then answers with
 * what we wrote (the process's one own-writes registry, Manager.ownWrites), so a quick second pass neither re-issues
 * a certificate nor hits a write conflict.
 */
import { API_VERSION, type NtlsClientBinding } from '../../api/index.js';
import { CoreTypes, deepEqual, isAlreadyExists, isConflict, RetryableError, type SecretObject } from '../../runtime/index.js';
import type { OperatorContext } from '../shared/context.js';
import type { SecretReads } from '../shared/secrets.js';

export interface DesiredSecret {
  namespace: string;
  name: string;
  type: 'Opaque' | 'kubernetes.io/tls';
  /** Decoded values. */
  data: Record<string, string>;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
}

export type ApplyOutcome = 'created' | 'updated' | 'unchanged';

export const MANAGED_BY_LABELS = { 'app.kubernetes.io/managed-by': 'hsm-operator' } as const;
export const BINDING_LABEL = 'dedicatedhsm.io/ntlsclientbinding';

export function decodeSecret(secret: SecretObject | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(secret?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}

export function ownedBy(secret: SecretObject, owner: NtlsClientBinding): boolean {
  return (secret.metadata?.ownerReferences ?? []).some((r) => r.uid === owner.metadata.uid && r.kind === 'NtlsClientBinding');
}

const subset = (want: Record<string, string> | undefined, have: Record<string, string> | undefined): boolean =>
  Object.entries(want ?? {}).every(([k, v]) => have?.[k] === v);

/** Whether the Secret already holds exactly what is desired (data keys and values, type, labels, annotations). */
export function secretMatches(current: SecretObject, desired: DesiredSecret, owner: NtlsClientBinding): boolean {
  return (
    (current.type ?? 'Opaque') === desired.type &&
    deepEqual(decodeSecret(current), desired.data) &&
    subset(desired.labels, current.metadata?.labels) &&
    subset(desired.annotations, current.metadata?.annotations) &&
    ownedBy(current, owner)
  );
}

type OwnerReference = NonNullable<NonNullable<SecretObject['metadata']>['ownerReferences']>[number];

/** The binding as controller owner; blockOwnerDeletion keeps the Secret until the binding's finalizer is done. */
function ownerReference(owner: NtlsClientBinding): OwnerReference {
  const ref = { apiVersion: API_VERSION, kind: 'NtlsClientBinding', name: owner.metadata.name ?? '', uid: owner.metadata.uid ?? '', controller: true, blockOwnerDeletion: true };
  return ref as OwnerReference;
}

const encode = (data: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]));

export class OwnedSecrets {
  constructor(private readonly ctx: OperatorContext) {}

  /** The Secret (tracked as a dependency of the binding being reconciled), or undefined when it does not exist. */
  async read(reads: SecretReads, namespace: string, name: string): Promise<SecretObject | undefined> {
    await reads.data(namespace, name); // declares the dependency
    const cached = await this.ctx.secrets.get(`${namespace}/${name}`);
    return cached ? (this.ctx.manager.ownWrites.resolve(cached) as SecretObject) : undefined;
  }

  /** Creates or replaces the Secret unless it already matches. Refuses (throws) to touch a Secret it does not own. */
  async apply(owner: NtlsClientBinding, desired: DesiredSecret, current: SecretObject | undefined): Promise<ApplyOutcome> {
    if (current && secretMatches(current, desired, owner)) return 'unchanged';
    if (current && !ownedBy(current, owner)) throw new Error(`Secret ${desired.namespace}/${desired.name} exists and is not owned by this NtlsClientBinding`);
    const client = this.ctx.manager.client;
    const key = `${desired.namespace}/${desired.name}`;
    const body: SecretObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: desired.name,
        namespace: desired.namespace,
        labels: { ...(current?.metadata?.labels ?? {}), ...desired.labels },
        ...(desired.annotations || current?.metadata?.annotations ? { annotations: { ...(current?.metadata?.annotations ?? {}), ...(desired.annotations ?? {}) } } : {}),
        ownerReferences: [...(current?.metadata?.ownerReferences ?? []).filter((r) => r.uid !== owner.metadata.uid), ownerReference(owner)],
        ...(current?.metadata?.resourceVersion ? { resourceVersion: current.metadata.resourceVersion } : {}),
      },
      type: desired.type,
      data: encode(desired.data),
    };
    try {
      const written = current ? await client.replace<SecretObject>(CoreTypes.secrets, body) : await client.create<SecretObject>(CoreTypes.secrets, body);
      if (current) this.ctx.manager.ownWrites.record(current, written);
      else this.ctx.secrets.created(key);
      return current ? 'updated' : 'created';
    } catch (e) {
      if (isConflict(e) || isAlreadyExists(e)) {
        if (current) this.ctx.manager.ownWrites.forget(current.metadata?.uid);
        throw new RetryableError(`Secret ${key} changed while it was being written; looking again`, { retryAfterMs: 200, cause: e });
      }
      throw e;
    }
  }
}

/**
 * A keyed digest of a credential's value (HMAC-SHA256), so the credential guard can tell "the same value again" from
 * "a new value" without keeping the value anywhere. A rejection holds until the value changes: a metadata-only update
 * of the Secret (a label, an annotation, External Secrets or Sealed Secrets re-syncing) is the same value and gets no
 * second login attempt. The digest is persisted in status with the guard's records; the key is secret so a reader of
 * status cannot test guesses of a password against it. The key lives in one Secret of the operator's namespace,
 * created on first use, so every replica and every restart computes the same digest.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { CoreTypes, isAlreadyExists, type KubeClient, type KubeObject } from '../../runtime/index.js';

/** Where the digest key is kept (the operator's namespace; default name below). */
export interface DigestKeyRef {
  namespace: string;
  name: string;
}

export const DEFAULT_DIGEST_KEY_SECRET = 'hsm-operator-credential-digest-key';
const KEY_FIELD = 'key';

interface SecretObject extends KubeObject {
  data?: Record<string, string>;
  type?: string;
}

export type CredentialDigest = (value: string) => Promise<string>;

/** The digest of a value under `key`: hex, prefixed with its algorithm so a later change of scheme is visible. */
export function digestWith(key: Buffer, value: string): string {
  return `hmac-sha256:${createHmac('sha256', key).update(value, 'utf8').digest('hex')}`;
}

/**
 * A digest function whose key is read from (or, the first time, created in) the Secret `ref`. The key is loaded once;
 * a failed load is retried on the next call (a credential read then fails rather than using an unkeyed digest).
 */
export function secretKeyedDigest(client: KubeClient, ref: DigestKeyRef): CredentialDigest {
  let key: Promise<Buffer> | undefined;
  const load = async (): Promise<Buffer> => {
    const existing = await client.getIfExists<SecretObject>(CoreTypes.secrets, ref.namespace, ref.name);
    const have = existing?.data?.[KEY_FIELD];
    if (have) return Buffer.from(have, 'base64');
    if (existing) throw new Error(`Secret ${ref.namespace}/${ref.name} has no "${KEY_FIELD}": delete it and the operator creates a new one.`);
    const secret: SecretObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: ref.name, namespace: ref.namespace, labels: { 'app.kubernetes.io/managed-by': 'hsm-operator' } },
      type: 'Opaque',
      data: { [KEY_FIELD]: randomBytes(32).toString('base64') },
    };
    try {
      const created = await client.create<SecretObject>(CoreTypes.secrets, secret);
      return Buffer.from(created.data?.[KEY_FIELD] ?? secret.data![KEY_FIELD]!, 'base64');
    } catch (e) {
      // Another replica created it first: use theirs.
      if (!isAlreadyExists(e)) throw e;
      const theirs = await client.getIfExists<SecretObject>(CoreTypes.secrets, ref.namespace, ref.name);
      const k = theirs?.data?.[KEY_FIELD];
      if (!k) throw new Error(`Secret ${ref.namespace}/${ref.name} has no "${KEY_FIELD}"`, { cause: e });
      return Buffer.from(k, 'base64');
    }
  };
  return async (value) => {
    key ??= load().catch((e: unknown) => {
      key = undefined;
      throw e;
    });
    return digestWith(await key, value);
  };
}

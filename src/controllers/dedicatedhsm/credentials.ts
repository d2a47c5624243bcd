/**
 * Which Azure identity a DedicatedHsm acts as: a service principal from the Secret its spec names, else the
 * operator's own identity. The identity also keys the shared gateway and subnet readings (two identities may see
 * different things).
 */
import type { DedicatedHsm } from '../../api/index.js';
import type { AzurePlane } from '../../azure/index.js';
import type { OperatorContext, SecretReads } from '../shared/index.js';

export type AzureAccess = { ok: true; plane: AzurePlane; identity: string } | { ok: false; message: string };

export function identityOf(hsm: DedicatedHsm): string {
  return hsm.spec.azure.credentialsRef?.name ? `secret:${hsm.metadata.namespace ?? ''}/${hsm.spec.azure.credentialsRef.name}` : 'default';
}

/** The Azure plane for this HSM's credentials, or what is missing in words a human can act on. */
export async function azureAccess(ctx: OperatorContext, hsm: DedicatedHsm, secrets: SecretReads): Promise<AzureAccess> {
  const ref = hsm.spec.azure.credentialsRef;
  if (!ref) return { ok: true, plane: ctx.azure({ kind: 'default' }), identity: 'default' };
  const ns = hsm.metadata.namespace ?? 'default';
  const d = await secrets.data(ns, ref.name);
  if (!d.ok) return { ok: false, message: `Azure credentials: ${d.message}` };
  const keys = { tenantId: ref.tenantIdKey, clientId: ref.clientIdKey, clientSecret: ref.clientSecretKey };
  const missing = Object.values(keys).filter((k) => !d.data[k]);
  if (missing.length) return { ok: false, message: `Azure credentials: Secret ${ns}/${ref.name} has no ${missing.map((k) => `"${k}"`).join(', ')}: add ${missing.length === 1 ? 'it' : 'them'}.` };
  const tenantId = d.data[keys.tenantId] ?? '';
  const clientId = d.data[keys.clientId] ?? '';
  const clientSecret = d.data[keys.clientSecret] ?? '';
  return { ok: true, plane: ctx.azure({ kind: 'clientSecret', tenantId, clientId, clientSecret }), identity: identityOf(hsm) };
}

/**
 * Which Azure identity a DedicatedHsm acts as, and whether it may reach Azure at all: the tenancy policy's answer
 * (scope.ts), asked before any Azure call. Without a policy: a service principal from the Secret its spec names,
 * else the operator's own identity. With one: the identity the platform team chose for its namespace (the
 * operator's, or a Secret of the operator's namespace), or the spec's own Secret where the policy allows that, and
 * only in the subscriptions and resource groups it allows. The identity also keys the shared gateway and subnet
 * readings (two identities may see different things).
 */
import type { DedicatedHsm } from '../../api/index.js';
import type { AzurePlane } from '../../azure/index.js';
import type { OperatorContext, SecretReads } from '../shared/index.js';
import type { Pass } from './pass.js';
import { scopeOf } from './scope.js';

export type AzureAccess = { ok: true; plane: AzurePlane; identity: string } | { ok: false; reason: 'SecretNotFound' | 'NotPermitted'; message: string };

interface SecretKeys {
  namespace: string;
  name: string;
  tenantIdKey: string;
  clientIdKey: string;
  clientSecretKey: string;
}

/** The Azure plane for this HSM's identity, or why it gets none, in words a human can act on. */
export async function azureAccess(ctx: OperatorContext, hsm: DedicatedHsm, secrets: SecretReads): Promise<AzureAccess> {
  const scope = scopeOf(ctx.tenancy, hsm);
  if (!scope.permitted) return { ok: false, reason: 'NotPermitted', message: scope.message };
  const ns = hsm.metadata.namespace ?? 'default';
  switch (scope.identity.kind) {
    case 'operator':
      return { ok: true, plane: ctx.azure({ kind: 'default' }), identity: 'default' };
    case 'tenant': {
      const ref = hsm.spec.azure.credentialsRef;
      if (!ref) return { ok: true, plane: ctx.azure({ kind: 'default' }), identity: 'default' };
      return fromSecret(ctx, secrets, { namespace: ns, name: ref.name, tenantIdKey: ref.tenantIdKey, clientIdKey: ref.clientIdKey, clientSecretKey: ref.clientSecretKey }, '');
    }
    case 'platform':
      return fromSecret(ctx, secrets, scope.identity.secret, ` (the identity the operator's tenancy policy names for namespace ${ns}; the platform team must provide it)`);
  }
}

async function fromSecret(ctx: OperatorContext, secrets: SecretReads, s: SecretKeys, whose: string): Promise<AzureAccess> {
  const d = await secrets.data(s.namespace, s.name);
  if (!d.ok) return { ok: false, reason: 'SecretNotFound', message: `Azure credentials${whose}: ${d.message}` };
  const keys = [s.tenantIdKey, s.clientIdKey, s.clientSecretKey];
  const missing = keys.filter((k) => !d.data[k]);
  if (missing.length) {
    return { ok: false, reason: 'SecretNotFound', message: `Azure credentials${whose}: Secret ${s.namespace}/${s.name} has no ${missing.map((k) => `"${k}"`).join(', ')}: add ${missing.length === 1 ? 'it' : 'them'}.` };
  }
  const [tenantId, clientId, clientSecret] = keys.map((k) => d.data[k] ?? '') as [string, string, string];
  return { ok: true, plane: ctx.azure({ kind: 'clientSecret', tenantId, clientId, clientSecret }), identity: `secret:${s.namespace}/${s.name}` };
}

/** A pass that gets no Azure access: reported, and nothing is read from or written to Azure. */
export function noAzureAccess(hsm: DedicatedHsm, az: Extract<AzureAccess, { ok: false }>, pass: Pass): void {
  if (az.reason === 'SecretNotFound') {
    pass.override = { reason: 'SecretNotFound', severity: 'retrying', message: `${az.message} Nothing is read from or written to Azure until it exists.` };
    return;
  }
  pass.condition({ type: 'Provisioned', status: 'Unknown', reason: 'NotPermitted', message: az.message });
  pass.override = { reason: 'NotPermitted', severity: 'needsHuman', message: az.message };
  const prev = hsm.status?.conditions?.find((c) => c.type === 'Provisioned');
  if (prev?.reason !== 'NotPermitted') pass.event('Warning', 'NotPermitted', az.message);
}

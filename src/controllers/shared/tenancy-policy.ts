/**
 * The operator's tenancy policy: the platform team's file (YAML, `hsm-operator run --tenancy-policy=<path>`, the
 * chart's `tenancy.policy` value) saying, per namespace, which Azure subscriptions and resource groups its
 * DedicatedHsms may use and which Azure identity they act as; and whether namespaces it does not name may use the
 * operator's own identity at all. This file only reads and checks it (a clear error at start, never a guess); what it
 * allows is decided in one place, controllers/dedicatedhsm/scope.ts. Without a file the operator is single-tenant:
 * every namespace acts as today.
 */
import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { Patterns } from '../../api/index.js';

const SecretKeyName = (description: string, dflt: string) => Type.Optional(Type.String({ description: `${description} Default ${dflt}.`, pattern: Patterns.secretKey, maxLength: 253 }));

const PlatformSecret = Type.Object(
  {
    secretName: Type.String({ description: "A Secret in the operator's own namespace holding a service principal.", pattern: Patterns.objectName, minLength: 1, maxLength: 253 }),
    tenantIdKey: SecretKeyName('Key holding the Microsoft Entra tenant ID.', 'tenantId'),
    clientIdKey: SecretKeyName('Key holding the application (client) ID.', 'clientId'),
    clientSecretKey: SecretKeyName('Key holding the client secret.', 'clientSecret'),
  },
  { additionalProperties: false },
);

const Subscription = Type.Object(
  {
    id: Type.String({ description: 'Subscription ID (GUID).', pattern: Patterns.guid }),
    resourceGroups: Type.Array(Type.String({ description: 'A resource group name, or "*" for any in this subscription.', pattern: `^(\\*|${Patterns.resourceGroup.slice(1, -1)})$`, maxLength: 90 }), {
      minItems: 1,
    }),
  },
  { additionalProperties: false },
);

const NamespaceScope = Type.Object(
  {
    names: Type.Array(Type.String({ description: 'A namespace name (exact).', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 }), { minItems: 1 }),
    identity: Type.Union([Type.Literal('operator'), PlatformSecret], {
      description: '"operator": the operator\'s own identity; or a service principal Secret in the operator\'s namespace.',
    }),
    tenantCredentials: Type.Optional(Type.Union([Type.Literal('allowed'), Type.Literal('refused')], { description: 'May spec.azure.credentialsRef name a Secret of the namespace? Default allowed.' })),
    subscriptions: Type.Array(Subscription, { minItems: 1 }),
  },
  { additionalProperties: false },
);

export const TenancyPolicySchema = Type.Object(
  {
    globalIdentity: Type.Optional(
      Type.Union([Type.Literal('allNamespaces'), Type.Literal('onlyListed')], {
        description: 'allNamespaces (default): namespaces the policy does not name act as today. onlyListed: they reach nothing in Azure.',
      }),
    ),
    namespaces: Type.Optional(Type.Array(NamespaceScope)),
  },
  { additionalProperties: false },
);

type PolicyFile = Static<typeof TenancyPolicySchema>;

/** A platform-chosen service principal: a Secret of the operator's namespace and its keys. */
export interface PolicySecret {
  namespace: string;
  name: string;
  tenantIdKey: string;
  clientIdKey: string;
  clientSecretKey: string;
}

export interface NamespacePolicy {
  identity: { kind: 'operator' } | ({ kind: 'secret' } & PolicySecret);
  tenantCredentials: 'allowed' | 'refused';
  /** Subscription ID (lower case) -> resource group names (lower case), or '*' for any. */
  subscriptions: Map<string, ReadonlySet<string>>;
}

export interface TenancyPolicy {
  globalIdentity: 'allNamespaces' | 'onlyListed';
  /** By exact namespace name. */
  namespaces: Map<string, NamespacePolicy>;
  /** Where it was read from, for messages. */
  source: string;
}

export class TenancyPolicyError extends Error {
  override readonly name = 'TenancyPolicyError';
}

/** Checks and reads a policy document; `operatorNamespace` is where its Secrets live. Throws TenancyPolicyError naming every problem. */
export function parseTenancyPolicy(text: string, operatorNamespace: string, source = 'tenancy policy'): TenancyPolicy {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new TenancyPolicyError(`${source}: not YAML: ${(e as Error).message}`);
  }
  doc ??= {};
  const errors = [...Value.Errors(TenancyPolicySchema, doc)].map((e) => `${e.path || '/'}: ${e.message}`);
  if (errors.length) throw new TenancyPolicyError(`${source} is invalid: ${[...new Set(errors)].slice(0, 10).join('; ')}`);
  const file = doc as PolicyFile;
  const namespaces = new Map<string, NamespacePolicy>();
  const problems: string[] = [];
  for (const [i, n] of (file.namespaces ?? []).entries()) {
    const subscriptions = new Map<string, Set<string>>();
    for (const s of n.subscriptions) {
      const id = s.id.toLowerCase();
      if (subscriptions.has(id)) problems.push(`/namespaces/${i}: subscription ${s.id} is listed twice`);
      subscriptions.set(id, new Set(s.resourceGroups.map((g) => g.toLowerCase())));
    }
    const identity: NamespacePolicy['identity'] =
      n.identity === 'operator'
        ? { kind: 'operator' }
        : {
            kind: 'secret',
            namespace: operatorNamespace,
            name: n.identity.secretName,
            tenantIdKey: n.identity.tenantIdKey ?? 'tenantId',
            clientIdKey: n.identity.clientIdKey ?? 'clientId',
            clientSecretKey: n.identity.clientSecretKey ?? 'clientSecret',
          };
    for (const name of n.names) {
      if (namespaces.has(name)) problems.push(`/namespaces/${i}: namespace ${name} is named in two entries`);
      namespaces.set(name, { identity, tenantCredentials: n.tenantCredentials ?? 'allowed', subscriptions });
    }
  }
  if (problems.length) throw new TenancyPolicyError(`${source} is invalid: ${problems.join('; ')}`);
  return { globalIdentity: file.globalIdentity ?? 'allNamespaces', namespaces, source };
}

/** Reads the policy file at start. */
export function loadTenancyPolicy(path: string, operatorNamespace: string): TenancyPolicy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TenancyPolicyError(`tenancy policy: cannot read ${path}: ${(e as Error).message}`);
  }
  return parseTenancyPolicy(text, operatorNamespace, `tenancy policy ${path}`);
}

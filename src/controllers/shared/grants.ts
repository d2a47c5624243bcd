/**
 * The one owner of "may this object use that DedicatedHsm?" (invariant 7). A reference within a namespace needs no
 * grant (whoever edits the namespace owns its HSMs); a reference into another namespace reaches the HSM only when
 * an HsmGrant in the HSM's namespace admits the referring namespace, kind, HSM, every partition asked for, the
 * client name, and a place within the grant's client count. Pure: the caller hands in the grants and namespace
 * labels from its caches. Messages say what the owners must grant and never show what they granted to others.
 */
import type { GrantableKind, HsmGrant, RevocationPolicy } from '../../api/index.js';
import type { OperatorContext } from './context.js';

/** A DedicatedHsm reference made absolute. */
export interface HsmAddress {
  namespace: string;
  name: string;
  /** In another namespace than the referring object's: a grant is needed. */
  crossNamespace: boolean;
  /** How status lists it: the name alone in the own namespace, else namespace/name. */
  statusKey: string;
  /** The cache key: namespace/name. */
  cacheKey: string;
}

/** Resolves a reference `{name, namespace?}` made by an object in `ownNamespace`. */
export function hsmAddress(ownNamespace: string, ref: { name: string; namespace?: string | undefined }): HsmAddress {
  const namespace = ref.namespace ?? ownNamespace;
  const crossNamespace = namespace !== ownNamespace;
  return { namespace, name: ref.name, crossNamespace, statusKey: crossNamespace ? `${namespace}/${ref.name}` : ref.name, cacheKey: `${namespace}/${ref.name}` };
}

/** The address behind a status key (`name` or `namespace/name`) written by `hsmAddress`. */
export function hsmAddressOfStatusKey(ownNamespace: string, statusKey: string): HsmAddress {
  const slash = statusKey.indexOf('/');
  return slash < 0 ? hsmAddress(ownNamespace, { name: statusKey }) : hsmAddress(ownNamespace, { namespace: statusKey.slice(0, slash), name: statusKey.slice(slash + 1) });
}

/** Grants admit partitions by label: an HA group member across namespaces named by serial is refused with this. */
export function labelRequired(hsm: HsmAddress): string {
  return `member on DedicatedHsm ${hsm.cacheKey}: name the partition by partitionLabel (grants admit partitions by label), not by serial.`;
}

/** One use of an HSM asked for by an object: who asks, for which partitions, under which client name. */
export interface GrantRequest {
  kind: GrantableKind;
  /** The referring object's namespace. */
  namespace: string;
  /** The referring object: identity and age order the client count (older first). */
  uid: string;
  createdAt: string;
  hsm: HsmAddress;
  partitions: readonly string[];
  /** NtlsClientBinding: the client name; HsmHaGroup: none. */
  clientName?: string;
}

export type GrantDecision =
  | { granted: true; grant?: { name: string; revocationPolicy: RevocationPolicy } }
  | { granted: false; message: string };

type Labels = Readonly<Record<string, string>> | undefined;
/** The labels of a namespace (from the operator's namespace cache); undefined when unknown. */
export type NamespaceLabels = (namespace: string) => Labels;

/** Whether a label selector (matchLabels and matchExpressions, all must hold) matches; an empty one matches nothing. */
export function selectorMatches(selector: HsmGrant['spec']['namespaceSelector'], labels: Labels): boolean {
  if (!selector) return false;
  const ml = Object.entries(selector.matchLabels ?? {});
  const me = selector.matchExpressions ?? [];
  if (ml.length === 0 && me.length === 0) return false;
  const l = labels ?? {};
  if (!ml.every(([k, v]) => l[k] === v)) return false;
  return me.every((e) => {
    const has = Object.prototype.hasOwnProperty.call(l, e.key);
    switch (e.operator) {
      case 'In':
        return has && (e.values ?? []).includes(l[e.key] ?? '');
      case 'NotIn':
        return !has || !(e.values ?? []).includes(l[e.key] ?? '');
      case 'Exists':
        return has;
      case 'DoesNotExist':
        return !has;
      default:
        // The schema admits only these four; anything else matches nothing rather than everything.
        return false;
    }
  });
}

/** Whether a partition label is admitted by a grant's patterns ("*", an exact label, or a "prefix*"). */
export function partitionGranted(patterns: readonly string[], label: string): boolean {
  return patterns.some((p) => p === '*' || p === label || (p.endsWith('*') && label.startsWith(p.slice(0, -1))));
}

function admitsNamespace(g: HsmGrant, namespace: string, labels: Labels): boolean {
  return (g.spec.namespaces ?? []).includes(namespace) || selectorMatches(g.spec.namespaceSelector, labels);
}

/** The grant's bounds except the count: which of them `req` fails, as words for the tenant (or none). */
function boundsFailed(g: HsmGrant, req: GrantRequest): string[] {
  const out: string[] = [];
  const missing = req.partitions.filter((p) => !partitionGranted(g.spec.partitions, p));
  if (missing.length) out.push(`partition${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  const prefix = g.spec.clientNamePrefix;
  if (req.clientName !== undefined && prefix !== undefined && !req.clientName.startsWith(prefix)) out.push(`client name ${req.clientName} (it must start with "${prefix}")`);
  return out;
}

const sameUse = (g: HsmGrant, r: GrantRequest): boolean => boundsFailed(g, r).length === 0;
const olderThan = (a: GrantRequest, b: GrantRequest): boolean => (a.createdAt !== b.createdAt ? a.createdAt < b.createdAt : a.uid < b.uid);

/**
 * Decides `req`. `grants` are the HsmGrants of the HSM's namespace, `labelsOf` reads namespace labels, `others` are
 * the other requests for the same HSM (any namespace; for the client count). A same-namespace reference is always
 * granted.
 */
export function decideGrant(req: GrantRequest, grants: readonly HsmGrant[], labelsOf: NamespaceLabels, others: readonly GrantRequest[]): GrantDecision {
  if (!req.hsm.crossNamespace) return { granted: true };
  const what = `${req.kind} from namespace ${req.namespace} to DedicatedHsm ${req.hsm.namespace}/${req.hsm.name}`;
  const ask = `Ask the owners of namespace ${req.hsm.namespace} to grant it (an HsmGrant there; see docs/security.md), or remove the target.`;
  const candidates = [...grants]
    .filter((g) => !g.metadata.deletionTimestamp)
    .filter((g) => g.spec.kinds.includes(req.kind) && g.spec.dedicatedHsms.includes(req.hsm.name) && admitsNamespace(g, req.namespace, labelsOf(req.namespace)))
    .sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1));
  if (candidates.length === 0) return { granted: false, message: `No HsmGrant admits ${what}. ${ask}` };
  const fitting = candidates.filter((g) => sameUse(g, req));
  if (fitting.length === 0) {
    const failed = [...new Set(candidates.flatMap((g) => boundsFailed(g, req)))];
    return { granted: false, message: `The HsmGrants that admit ${what} do not admit ${failed.join(' or ')}. ${ask}` };
  }
  for (const g of fitting) {
    // The count: requests of the same kind this grant would admit on this HSM, older first, up to the limit.
    const ahead = others.filter((o) => o.uid !== req.uid && o.kind === req.kind && o.hsm.cacheKey === req.hsm.cacheKey && o.hsm.crossNamespace && admitsNamespace(g, o.namespace, labelsOf(o.namespace)) && sameUse(g, o) && olderThan(o, req));
    if (ahead.length < g.spec.maxClientsPerHsm) return { granted: true, grant: { name: g.metadata.name ?? '', revocationPolicy: g.spec.revocationPolicy } };
  }
  const limits = fitting.map((g) => g.spec.maxClientsPerHsm).join(' / ');
  return { granted: false, message: `The HsmGrants that admit ${what} are used up (at most ${limits} on this HSM, taken by older objects). ${ask}` };
}

/** `decideGrant` over the operator's caches: the HSM namespace's grants and the namespaces' labels. */
export function grantFor(ctx: Pick<OperatorContext, 'caches'>, req: GrantRequest, others: readonly GrantRequest[]): GrantDecision {
  if (!req.hsm.crossNamespace) return { granted: true };
  const grants = ctx.caches.grants.list(req.hsm.namespace);
  return decideGrant(req, grants, (ns) => ctx.caches.namespaces.get(ns)?.metadata?.labels, others);
}

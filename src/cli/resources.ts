/**
 * The three HSM kinds as a human reads them: which kind a name means (`dhsm`, `hsmha`, `ntlsb`, plurals), one row
 * per object (READY, REASON and the key fields, like `kubectl get dhsm,ntlsb,hsmha`), and its conditions. Pure
 * functions over plain objects, shared by `status`, `explain-failure` and the sandbox's live view.
 */
import {
  conditionTypes,
  DedicatedHsmDefinition,
  GROUP,
  HsmHaGroupDefinition,
  NtlsClientBindingDefinition,
  normalStatus,
  VERSION,
  type Condition,
  type ConditionKind,
  type DedicatedHsm,
  type HsmHaGroup,
  type KindDefinition,
  type NtlsClientBinding,
} from '../api/index.js';
import type { ResourceType } from '../runtime/index.js';

export type HsmKind = ConditionKind;
export type HsmObject = DedicatedHsm | NtlsClientBinding | HsmHaGroup;

export const HSM_KINDS: readonly HsmKind[] = ['DedicatedHsm', 'NtlsClientBinding', 'HsmHaGroup'];

const DEFINITIONS: Record<HsmKind, KindDefinition> = {
  DedicatedHsm: DedicatedHsmDefinition,
  NtlsClientBinding: NtlsClientBindingDefinition,
  HsmHaGroup: HsmHaGroupDefinition,
};

export function resourceTypeOf(kind: HsmKind): ResourceType {
  return { group: GROUP, version: VERSION, plural: DEFINITIONS[kind].plural, kind, namespaced: true };
}

/** `DedicatedHsm`, `dedicatedhsms`, `dhsm`, `dedicatedhsms.dedicatedhsm.io`, ... -> the kind; undefined if none. */
export function resolveKind(text: string): HsmKind | undefined {
  const t = text.trim().toLowerCase().replace(new RegExp(`\\.${GROUP.replace('.', '\\.')}$`), '');
  for (const kind of HSM_KINDS) {
    const d = DEFINITIONS[kind];
    if ([kind.toLowerCase(), d.plural, d.singular, ...d.shortNames].includes(t)) return kind;
  }
  return undefined;
}

/** Short names as kubectl shows them, for help texts. */
export function kindAliases(kind: HsmKind): string[] {
  const d = DEFINITIONS[kind];
  return [kind, d.plural, ...d.shortNames];
}

export const conditionsOf = (obj: HsmObject): Condition[] => (obj.status?.conditions ?? []) as Condition[];

export function conditionOf(obj: HsmObject, type: string): Condition | undefined {
  return conditionsOf(obj).find((c) => c.type === type);
}

/** Ready is current when the controller has acted on the object's latest generation. */
export function isCurrent(obj: HsmObject): boolean {
  const seen = obj.status?.observedGeneration;
  return seen !== undefined && seen >= (obj.metadata.generation ?? 0);
}

export function isReady(obj: HsmObject): boolean {
  return conditionOf(obj, 'Ready')?.status === 'True' && isCurrent(obj);
}

export interface ResourceRow {
  kind: HsmKind;
  namespace: string;
  name: string;
  /** True | False | Unknown, or `-` before the first status. */
  ready: string;
  reason: string;
  message: string;
  /** The key fields of the kind, `key=value` separated by spaces. */
  details: string;
}

function hsmDetails(o: DedicatedHsm): string {
  const s = o.status;
  const parts = [`provisioning=${s?.provisioningState ?? '-'}`, `ip=${s?.privateIpAddress ?? '-'}`, `stamp=${o.spec.azure.stampId ?? o.spec.azure.zones?.[0] ?? '-'}`];
  if (s?.attempts) parts.push(`attempts=${s.attempts}`);
  if (s?.redeploys) parts.push(`redeploys=${s.redeploys}`);
  return parts.join(' ');
}

function bindingDetails(o: NtlsClientBinding): string {
  const targets = o.spec.targets.map((t) => t.dedicatedHsmRef.name).join(',');
  return `client=${o.spec.clientName} in-sync=${conditionOf(o, 'InSync')?.status ?? '-'} targets=${targets}`;
}

function groupDetails(o: HsmHaGroup): string {
  const total = o.spec.members.length;
  const alive = o.status?.aliveMembers;
  return `label=${o.spec.label} alive=${alive ?? '-'}/${total}${o.status?.needsSync ? ' needs-sync' : ''}`;
}

export function detailsOf(obj: HsmObject): string {
  switch (obj.kind) {
    case 'DedicatedHsm':
      return hsmDetails(obj);
    case 'NtlsClientBinding':
      return bindingDetails(obj);
    case 'HsmHaGroup':
      return groupDetails(obj);
  }
}

export function rowOf(obj: HsmObject): ResourceRow {
  const ready = conditionOf(obj, 'Ready');
  const stale = ready !== undefined && !isCurrent(obj);
  return {
    kind: obj.kind,
    namespace: obj.metadata.namespace ?? '',
    name: obj.metadata.name ?? '',
    ready: ready?.status ?? '-',
    reason: ready ? `${ready.reason}${stale ? ' (stale)' : ''}` : '-',
    message: ready?.message ?? '',
    details: detailsOf(obj),
  };
}

/** Kind order, then namespace and name: the order `kubectl get dhsm,ntlsb,hsmha` prints. */
export function sortObjects<T extends HsmObject>(objs: readonly T[]): T[] {
  const rank = (k: HsmKind) => HSM_KINDS.indexOf(k);
  return [...objs].sort(
    (a, b) => rank(a.kind) - rank(b.kind) || (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''),
  );
}

export interface TableOptions {
  /** Show the namespace column (objects from more than one namespace). */
  namespaces?: boolean;
  /** Print Ready's message under every row that is not Ready, cut to this width (0: no messages). */
  messageWidth?: number;
}

function cut(text: string, width: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= width ? flat : `${flat.slice(0, Math.max(0, width - 1))}…`;
}

/** A padded table: KIND/NAME, READY, REASON, DETAILS (and NAMESPACE), with Ready's message under unready rows. */
export function formatTable(rows: readonly ResourceRow[], o: TableOptions = {}): string[] {
  const head = { ns: 'NAMESPACE', name: 'KIND/NAME', ready: 'READY', reason: 'REASON', details: 'DETAILS' };
  const name = (r: ResourceRow) => `${r.kind}/${r.name}`;
  const w = {
    ns: Math.max(head.ns.length, ...rows.map((r) => r.namespace.length)),
    name: Math.max(head.name.length, ...rows.map((r) => name(r).length)),
    ready: Math.max(head.ready.length, ...rows.map((r) => r.ready.length)),
    reason: Math.max(head.reason.length, ...rows.map((r) => r.reason.length)),
  };
  const line = (ns: string, n: string, ready: string, reason: string, details: string) =>
    `${o.namespaces ? `${ns.padEnd(w.ns)}  ` : ''}${n.padEnd(w.name)}  ${ready.padEnd(w.ready)}  ${reason.padEnd(w.reason)}  ${details}`.trimEnd();
  const out = [line(head.ns, head.name, head.ready, head.reason, head.details)];
  for (const r of rows) {
    out.push(line(r.namespace, name(r), r.ready, r.reason, r.details));
    if (o.messageWidth && r.ready !== 'True' && r.message) out.push(`    ${cut(r.message, o.messageWidth - 4)}`);
  }
  return out;
}

/** How a condition stands against its normal status: ok, failing, or not known yet. */
export function conditionMark(c: Pick<Condition, 'type' | 'status'>): 'ok' | 'bad' | 'unknown' {
  // Reconciling=True is work in progress, not a failure.
  if (c.status === 'Unknown' || (c.type === 'Reconciling' && c.status === 'True')) return 'unknown';
  return c.status === normalStatus(c.type) ? 'ok' : 'bad';
}

const MARKS = { ok: '✓', bad: '✗', unknown: '…' } as const;

/** Every condition of an object in the kind's documented order, one per line, with its mark and message. */
export function formatConditions(obj: HsmObject, indent = '  '): string[] {
  const order = conditionTypes(obj.kind);
  const conds = [...conditionsOf(obj)].sort((a, b) => rankOf(order, a.type) - rankOf(order, b.type));
  if (conds.length === 0) return [`${indent}(no conditions yet: the operator has not reported on this object)`];
  const w = Math.max(...conds.map((c) => c.type.length));
  const wr = Math.max(...conds.map((c) => c.reason.length));
  return conds.map((c) => `${indent}${MARKS[conditionMark(c)]} ${c.type.padEnd(w)}  ${c.status.padEnd(7)}  ${c.reason.padEnd(wr)}  ${c.message}`.trimEnd());
}

function rankOf(order: string[], type: string): number {
  const i = order.indexOf(type);
  return i < 0 ? order.length : i;
}

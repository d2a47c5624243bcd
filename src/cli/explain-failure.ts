/**
 * `hsm-operator explain-failure <kind>/<name>`: why an object is not Ready. The failure class from Ready's
 * reason, what the reason means, what the troubleshooting guide says to do about it, the failing conditions, and
 * the object's recent Events.
 */
import type { DedicatedHsm } from '../api/index.js';
import { CoreTypes, isNotFound, type EventObject } from '../runtime/index.js';
import { explainReason } from './guide.js';
import { CliError, EXIT, parseFlags, str, UsageError, type Io } from './io.js';
import { KUBE_FLAGS, KUBE_HELP, kubeTarget, unreachable, type KubeTarget } from './kube.js';
import { conditionMark, conditionOf, conditionsOf, formatConditions, HSM_KINDS, kindAliases, resolveKind, resourceTypeOf, type HsmKind, type HsmObject } from './resources.js';

export const EXPLAIN_HELP = [
  'Usage: hsm-operator explain-failure <kind>/<name> [flags]',
  '',
  "Explains why a resource is not Ready: the failure class of Ready's reason (progressing, retrying, needs a",
  'human), what the reason means, the section of the Dedicated HSM troubleshooting guide that covers it and what',
  'to do, the failing conditions, and the recent Events of the object.',
  '',
  'Kinds: ' + HSM_KINDS.map((k) => kindAliases(k).join(' | ')).join('; '),
  '',
  'Flags:',
  ...KUBE_HELP.map((l) => (l.includes('--namespace') ? `${l} (default: the context's, else the only object of that name)` : l)),
  '  --events <n>            how many recent Events to show (default 10)',
  '  -h, --help              show this help',
  '',
  'Example: hsm-operator explain-failure dhsm/hsm-eastus-1 -n hsm-platform',
  '',
  'Exit codes: 0 explained (also when the resource is Ready), 1 not found or the cluster could not be read, 2 usage.',
  '',
].join('\n');

export function parseTarget(positionals: string[]): { kind: HsmKind; name: string } {
  const [first, second, ...rest] = positionals;
  if (!first || rest.length) throw new UsageError('expected one argument <kind>/<name> (or <kind> <name>)');
  const [kindText, name] = second !== undefined ? [first, second] : first.includes('/') ? (first.split('/', 2) as [string, string]) : [first, ''];
  if (!name) throw new UsageError(`expected <kind>/<name>, got "${positionals.join(' ')}"`);
  const kind = resolveKind(kindText);
  if (!kind) throw new UsageError(`unknown kind "${kindText}"; one of ${HSM_KINDS.map((k) => kindAliases(k).join(', ')).join('; ')}`);
  return { kind, name };
}

/** The object `kind/name`: in `namespace`, or the only one of that name in any namespace. */
export async function findObject(t: KubeTarget, kind: HsmKind, name: string, namespace: string | undefined): Promise<HsmObject> {
  const type = resourceTypeOf(kind);
  if (namespace) {
    const o = await t.client.getIfExists<HsmObject>(type, namespace, name);
    if (!o) throw new CliError(`${kind} ${namespace}/${name} not found`);
    return o;
  }
  const all = (await t.client.list<HsmObject>(type)).items.filter((o) => o.metadata.name === name);
  if (all.length === 1 && all[0]) return all[0];
  if (all.length === 0) throw new CliError(`no ${kind} named ${name} in any namespace`);
  throw new CliError(`${kind} ${name} exists in ${all.map((o) => o.metadata.namespace).join(', ')}: choose one with -n`);
}

const eventTime = (e: EventObject): number => Date.parse(e.series?.lastObservedTime ?? e.eventTime ?? String(e.metadata?.creationTimestamp ?? '')) || 0;

/** The object's Events, oldest first, at most `limit`. */
export async function recentEvents(t: KubeTarget, obj: HsmObject, limit: number): Promise<EventObject[]> {
  const list = await t.client.list<EventObject>(CoreTypes.events, { namespace: obj.metadata.namespace });
  return list.items
    .filter((e) => e.regarding?.kind === obj.kind && e.regarding?.name === obj.metadata.name && (!e.regarding.uid || !obj.metadata.uid || e.regarding.uid === obj.metadata.uid))
    .sort((a, b) => eventTime(a) - eventTime(b))
    .slice(-limit);
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

/** The explanation as text (pure: the object, its Events and the clock). */
export function explain(obj: HsmObject, events: readonly EventObject[], now = Date.now()): string {
  const lines: string[] = [`${obj.kind} ${obj.metadata.namespace}/${obj.metadata.name}`];
  const ready = conditionOf(obj, 'Ready');
  if (!ready) {
    lines.push('', 'Ready: not reported yet. The operator has not written a status for this object: is it running, and does it watch this namespace?');
  } else {
    const x = explainReason(ready.reason);
    const stale = (obj.status?.observedGeneration ?? 0) < (obj.metadata.generation ?? 0);
    lines.push('', `Ready: ${ready.status}, reason ${ready.reason} - ${x.failureClass}${stale ? ' (status is from an older generation: the operator has not caught up with the latest change)' : ''}`);
    if (ready.message) lines.push(`  ${ready.message}`);
    if (ready.status === 'True' && !stale) {
      lines.push('', 'Nothing to explain: every check passed.');
    } else {
      if (x.meaning) lines.push('', `What it means: ${x.meaning}`);
      if (x.advice) {
        lines.push(x.advice.section === 'hsm-operator' ? 'Guide: (the operator itself, not a guide section)' : `Guide: "${x.advice.section}" (Azure Dedicated HSM troubleshooting)`);
        lines.push(`What to do: ${x.advice.action}`);
      }
      const others = conditionsOf(obj).filter((c) => !['Ready', 'Reconciling', 'Stalled'].includes(c.type) && conditionMark(c) === 'bad' && c.reason !== ready.reason);
      for (const c of others) {
        const y = explainReason(c.reason);
        lines.push('', `Also failing: ${c.type} (${c.reason}) - ${c.message}`);
        if (y.advice) lines.push(`  Guide: "${y.advice.section}". ${y.advice.action}`);
      }
    }
  }
  if (obj.kind === 'DedicatedHsm') {
    const f = (obj as DedicatedHsm).status?.lastFailure;
    if (f) lines.push('', `Last Azure failure: ${f.class}${f.code ? ` (${f.code})` : ''}, ${ago(now - Date.parse(String(f.time)))}: ${f.message}`);
  }
  lines.push('', 'Conditions:', ...formatConditions(obj));
  lines.push('', events.length ? 'Recent events:' : 'Recent events: none');
  for (const e of events) {
    const count = e.series?.count ? ` (x${e.series.count})` : '';
    lines.push(`  ${ago(now - eventTime(e)).padStart(8)}  ${e.type.padEnd(7)}  ${e.reason}${count}: ${e.note}`);
  }
  return lines.join('\n') + '\n';
}

export async function explainFailureCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags(argv, { ...KUBE_FLAGS, events: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, { positionals: true });
  if (values.help) {
    io.out(EXPLAIN_HELP);
    return EXIT.ok;
  }
  const { kind, name } = parseTarget(positionals);
  const limit = Number(str(values, 'events') ?? '10');
  if (!Number.isInteger(limit) || limit < 0) throw new UsageError('--events must be a whole number');
  const t = kubeTarget(values, io.env);
  try {
    let obj: HsmObject;
    let events: EventObject[];
    try {
      obj = await findObject(t, kind, name, str(values, 'namespace') ?? t.contextNamespace);
      events = await recentEvents(t, obj, limit);
    } catch (e) {
      if (e instanceof CliError) throw e;
      if (isNotFound(e)) throw new CliError(`the cluster at ${t.server} does not serve ${resourceTypeOf(kind).plural}.dedicatedhsm.io: are the CRDs installed?`);
      throw unreachable(t, e);
    }
    io.out(explain(obj, events));
    return EXIT.ok;
  } finally {
    t.close();
  }
}

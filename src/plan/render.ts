/** A plan as text for a human (or a pull-request comment) and as JSON for CI. Pure. */
import { formatDiff } from './diff.js';
import { isFine as fine } from './object-plan.js';
import type { ObjectPlan, PlannedCheck, PlanResult } from './types.js';

const mark = (c: PlannedCheck): string => (fine(c) ? '✓' : c.severity === 'progressing' ? '…' : '✗');

function objectText(p: ObjectPlan): string[] {
  const lines = [`${p.kind} ${p.namespace}/${p.name}  (${p.source})`];
  const cluster = p.exists.cluster
    ? `in the cluster (generation ${p.exists.generation ?? '?'}${p.exists.ready ? `, Ready ${p.exists.ready.status}/${p.exists.ready.reason}` : ', no status yet'})`
    : 'not in the cluster (new)';
  const az = p.exists.azure;
  const azure = az
    ? `; in Azure: ${az.state === 'exists' ? `${az.id ?? ''} (${az.provisioningState ?? 'unknown state'})` : az.state === 'missing' ? 'does not exist' : az.state === 'in-flight' ? (az.detail ?? 'an operation is in flight') : `unknown${az.detail ? ` (${az.detail})` : ''}`}`
    : '';
  lines.push(`  exists:  ${cluster}${azure}`);
  lines.push(`  next:    ${p.next.action}: ${p.next.summary}`);
  if (p.error) lines.push(`  ERROR:   ${p.error}`);
  if (p.refused.length) {
    lines.push('  refused by the API server:');
    for (const r of p.refused) lines.push(`    ✗ ${r.path}: ${r.message}`);
  }
  if (p.blockers.length) {
    lines.push(p.needsHuman ? '  stops it (needs a human):' : '  holds it back (the operator waits or retries by itself):');
    for (const b of p.blockers) {
      lines.push(`    ${mark(b)} ${b.type} ${b.reason}${b.from === 'operator' ? ' (operator\'s last reading)' : ''}: ${b.message}`);
      if (b.guide) lines.push(`        ${b.guide.section === 'hsm-operator' ? 'Operator' : `Guide: "${b.guide.section}"`}. What to do: ${b.guide.action}`);
    }
  }
  const ok = p.checks.filter((c) => fine(c));
  if (ok.length) lines.push(`  passes:  ${ok.map((c) => `${c.type}${c.from === 'operator' ? '*' : ''}`).join(', ')}${ok.some((c) => c.from === 'operator') ? '  (* the operator\'s last reading)' : ''}`);
  if (p.diff.length) {
    lines.push('  changes (spec in the cluster -> file):');
    for (const l of formatDiff(p.diff)) lines.push(`    ${l}`);
  }
  for (const e of p.events) lines.push(`  the operator would say: ${e.type} ${e.reason}: ${e.note}`);
  for (const n of p.notes) lines.push(`  note: ${n}`);
  return lines;
}

export function planText(r: PlanResult, header: string): string {
  const out = [header, ''];
  if (r.objects.length === 0) out.push('No DedicatedHsm, NtlsClientBinding or HsmHaGroup in the manifests.', '');
  for (const p of r.objects) out.push(...objectText(p), '');
  if (r.ignored.length) out.push(`Not planned (other kinds): ${r.ignored.map((i) => `${i.kind}/${i.name || '?'}`).join(', ')}`, '');
  const counts = new Map<string, number>();
  for (const p of r.objects) counts.set(p.next.action, (counts.get(p.next.action) ?? 0) + 1);
  const human = r.objects.filter((p) => p.needsHuman).length;
  out.push(`${r.objects.length} object${r.objects.length === 1 ? '' : 's'}: ${[...counts].map(([a, n]) => `${n} ${a}`).join(', ') || 'none'}; ${human} need${human === 1 ? 's' : ''} a human.`);
  for (const s of r.statusNotWritten) out.push(`Not written: ${s} (an appliance rejected the password plan used; the operator records it on its own first attempt).`);
  if (r.refusedWrites.length) out.push(`Refused writes (nothing was sent): ${r.refusedWrites.map((w) => `${w.plane} ${w.what}`).join('; ')}`);
  else out.push('Nothing was written to the cluster, Azure or any appliance.');
  out.push(r.exitCode === 0 ? 'Exit 0: nothing needs a human.' : r.exitCode === 2 ? 'Exit 2: something needs a human (see "stops it").' : 'Exit 1: the plan is incomplete (see ERROR).');
  return out.join('\n') + '\n';
}

export function planJson(r: PlanResult): string {
  return JSON.stringify(r, null, 2) + '\n';
}

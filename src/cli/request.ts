/**
 * `hsm-operator request <resync|repush|recover> <kind>/<name>`: asks the operator for one action the way
 * `flux reconcile` asks Flux, by setting the trigger annotation to a fresh value (the current time, RFC 3339) with a
 * merge patch. The operator acts once per distinct value and records the value it handled in status; it never edits
 * the annotation, so the request is safe next to a GitOps tool that owns the object.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { reconcileMode, TRIGGERS, type TriggerDefinition } from '../api/index.js';
import { durationMs, isNotFound } from '../runtime/index.js';
import { findObject, parseTarget } from './explain-failure.js';
import { CliError, EXIT, parseFlags, str, UsageError, type Io, type Values } from './io.js';
import { KUBE_FLAGS, KUBE_HELP, kubeTarget, unreachable } from './kube.js';
import { conditionOf, kindAliases, resourceTypeOf, type HsmKind, type HsmObject } from './resources.js';

/** The field manager of the CLI's patch: never the operator's own, so managedFields tell a request from a reconcile. */
export const REQUEST_FIELD_MANAGER = 'hsm-operator-request';

const DEFAULT_TIMEOUT = '2m';

export const REQUEST_HELP = [
  'Usage: hsm-operator request <resync|repush|recover> <kind>/<name> [flags]',
  '',
  'Asks the operator for one action, as `flux reconcile` asks Flux: sets the trigger annotation to a fresh value',
  '(the current time, RFC 3339) with a merge patch. The operator acts once per distinct value, records the value it',
  'handled in status before acting, and never edits the annotation (safe on objects Argo CD or Flux manage).',
  '',
  ...TRIGGERS.map((t) => `  ${t.verb.padEnd(8)} ${t.kinds.join(', ').padEnd(44)} ${t.annotation}`),
  '',
  '  resync   re-read Azure and the device now (after a human fixed quota, delegation, the gateway, a Secret)',
  '  repush   delete, register and assign the NTLS client again on every target',
  '  recover  run hagroup recover now, also while the recovery circuit is open',
  '',
  'Flags:',
  ...KUBE_HELP.map((l) => (l.includes('--namespace') ? `${l} (default: the context's, else the only object of that name)` : l)),
  '  --value <token>         the value to set (default: the current time, RFC 3339 UTC)',
  '  --wait                  wait until the operator has taken the request: the value recorded in status, which it',
  '                          writes right before it acts (the outcome follows in Events and conditions)',
  `  --timeout <duration>    how long --wait waits (default ${DEFAULT_TIMEOUT})`,
  '  -h, --help              show this help',
  '',
  'Example: hsm-operator request resync dhsm/hsm-eastus-1 -n payments --wait',
  '',
  'Exit codes: 0 requested (with --wait: taken), 1 not found, cluster unreachable or --wait timed out, 2 usage.',
  '',
].join('\n');

export interface RequestArgs {
  trigger: TriggerDefinition;
  kind: HsmKind;
  name: string;
  value: string | undefined;
  wait: boolean;
  timeoutMs: number;
  /** The cluster flags (--kubeconfig, --context, --namespace). */
  kube: Values;
}

const FLAGS = { ...KUBE_FLAGS, value: { type: 'string' }, wait: { type: 'boolean' }, timeout: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

/** The request the command line asks for (pure: no cluster is read). */
export function parseRequestArgs(argv: string[]): RequestArgs | 'help' {
  const { values, positionals } = parseFlags(argv, FLAGS, { positionals: true });
  if (values.help) return 'help';
  const [verb, ...target] = positionals;
  if (!verb) throw new UsageError(`expected an action (${TRIGGERS.map((t) => t.verb).join(', ')}) and <kind>/<name>`);
  const trigger = TRIGGERS.find((t) => t.verb === verb);
  if (!trigger) throw new UsageError(`unknown action "${verb}"; one of ${TRIGGERS.map((t) => t.verb).join(', ')}`);
  const { kind, name } = parseTarget(target);
  if (!(trigger.kinds as readonly string[]).includes(kind)) {
    throw new UsageError(`${verb} applies to ${trigger.kinds.map((k) => kindAliases(k as HsmKind)[0]).join(', ')}, not to ${kind}`);
  }
  const value = str(values, 'value');
  if (value !== undefined && value.trim() === '') throw new UsageError('--value must not be empty: an empty value never asks for anything');
  const timeout = str(values, 'timeout') ?? DEFAULT_TIMEOUT;
  const timeoutMs = durationMs(timeout);
  if (timeoutMs === undefined || !Number.isFinite(timeoutMs)) throw new UsageError(`--timeout ${timeout}: not a duration (e.g. 30s, 2m)`);
  return { trigger, kind, name, value, wait: values.wait === true, timeoutMs, kube: values };
}

/** A fresh value: now, unless that is what the annotation already holds (two requests in one millisecond). */
export function freshValue(now: number, current: string | undefined): string {
  let t = now;
  while (new Date(t).toISOString() === current) t++;
  return new Date(t).toISOString();
}

export async function requestCommand(argv: string[], io: Io): Promise<number> {
  const args = parseRequestArgs(argv);
  if (args === 'help') {
    io.out(REQUEST_HELP);
    return EXIT.ok;
  }
  const { trigger, kind, name, kube: values } = args;
  const t = kubeTarget(values, io.env);
  try {
    const type = resourceTypeOf(kind);
    let obj: HsmObject;
    try {
      obj = await findObject(t, kind, name, str(values, 'namespace') ?? t.contextNamespace);
    } catch (e) {
      if (e instanceof CliError) throw e;
      if (isNotFound(e)) throw new CliError(`the cluster at ${t.server} does not serve ${type.plural}.dedicatedhsm.io: are the CRDs installed?`);
      throw unreachable(t, e);
    }
    const ns = obj.metadata.namespace ?? '';
    const who = `${kind} ${ns}/${obj.metadata.name}`;
    const current = obj.metadata.annotations?.[trigger.annotation];
    const value = args.value ?? freshValue(Date.now(), current);
    const handled = (obj.status as Record<string, unknown> | undefined)?.[trigger.statusField];
    if (value === current) {
      io.err(`${who}: ${trigger.annotation} already holds ${JSON.stringify(value)}; the operator acts once per value, so nothing new is asked.\n`);
    } else {
      try {
        await t.client.patch(type, ns, obj.metadata.name ?? name, { metadata: { annotations: { [trigger.annotation]: value } } }, 'merge', { fieldManager: REQUEST_FIELD_MANAGER });
      } catch (e) {
        throw unreachable(t, e);
      }
      io.out(`${who}: ${trigger.annotation}=${value} requested\n`);
    }
    const m = reconcileMode(obj.metadata.annotations);
    const mode = 'mode' in m ? m.mode : undefined;
    const honoured = trigger.verb === 'resync' ? ['manage', 'observe'] : ['manage'];
    if (!mode || !honoured.includes(mode)) {
      io.err(`note: ${who} is ${mode ? `in ${mode} mode` : 'in an invalid reconcile mode'}: ${trigger.verb} is not acted on until it is managed${trigger.verb === 'resync' ? ' or observed' : ''} again.\n`);
    }
    if (!args.wait) {
      if (handled === value) io.out(`already taken (status.${trigger.statusField})\n`);
      return EXIT.ok;
    }
    return await waitHandled(io, t, type, ns, obj.metadata.name ?? name, trigger, value, args.timeoutMs);
  } finally {
    t.close();
  }
}

async function waitHandled(
  io: Io,
  t: ReturnType<typeof kubeTarget>,
  type: ReturnType<typeof resourceTypeOf>,
  ns: string,
  name: string,
  trigger: TriggerDefinition,
  value: string,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let obj: HsmObject | undefined;
    try {
      obj = await t.client.getIfExists<HsmObject>(type, ns, name);
    } catch (e) {
      throw unreachable(t, e);
    }
    if (!obj) throw new CliError(`${type.kind ?? type.plural} ${ns}/${name} was deleted while waiting`);
    if ((obj.status as Record<string, unknown> | undefined)?.[trigger.statusField] === value) {
      const ready = conditionOf(obj, 'Ready');
      // Recorded before the operator acts: the action itself may still be running.
      io.out(`taken: status.${trigger.statusField}=${value}; the operator acts on it now (Events tell the outcome)${ready ? `. Ready ${ready.status} ${ready.reason}: ${ready.message}` : ''}\n`);
      return EXIT.ok;
    }
    if (Date.now() >= deadline) throw new CliError(`the operator did not record ${trigger.annotation}=${value} in status.${trigger.statusField} within ${Math.round(timeoutMs / 1000)} s: is it running, and does it watch namespace ${ns}?`);
    await sleep(Math.min(500, Math.max(0, deadline - Date.now())));
  }
}

/** `hsm-operator status`: every HSM resource with READY, REASON, key fields and its conditions. */
import { ApiError } from '../runtime/index.js';
import { CliError, EXIT, parseFlags, str, UsageError, type Io } from './io.js';
import { KUBE_FLAGS, KUBE_HELP, kubeTarget, unreachable, type KubeTarget } from './kube.js';
import { conditionsOf, formatConditions, formatTable, HSM_KINDS, isReady, resourceTypeOf, rowOf, sortObjects, type HsmObject } from './resources.js';

export const STATUS_HELP = [
  'Usage: hsm-operator status [flags]',
  '',
  'Shows every DedicatedHsm, NtlsClientBinding and HsmHaGroup: READY, REASON and key fields, then the conditions',
  'of each (✓ fine, ✗ failing, … not known yet / in progress). Reads all namespaces unless -n is given.',
  '',
  'Flags:',
  ...KUBE_HELP,
  '  -A, --all-namespaces    all namespaces (the default without -n)',
  '  -o, --output <format>   text (default) or json',
  '  -h, --help              show this help',
  '',
  'Exit codes: 0 read (whatever the resources say), 1 the cluster could not be read, 2 usage.',
  '',
].join('\n');

/** Every HSM resource of the namespace (or all namespaces). */
export async function listHsmObjects(t: KubeTarget, namespace: string | undefined): Promise<HsmObject[]> {
  const lists = await Promise.all(
    HSM_KINDS.map(async (kind) => {
      try {
        return (await t.client.list<HsmObject>(resourceTypeOf(kind), namespace ? { namespace } : {})).items;
      } catch (e) {
        if (e instanceof ApiError && e.code === 404) throw new CliError(`the cluster at ${t.server} does not serve ${resourceTypeOf(kind).plural}.dedicatedhsm.io: are the CRDs installed?`);
        throw e;
      }
    }),
  );
  return sortObjects(lists.flat());
}

export async function statusCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseFlags(argv, { ...KUBE_FLAGS, 'all-namespaces': { type: 'boolean', short: 'A' }, output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    io.out(STATUS_HELP);
    return EXIT.ok;
  }
  const output = str(values, 'output') ?? 'text';
  if (output !== 'text' && output !== 'json') throw new UsageError(`--output must be text or json, not ${output}`);
  const namespace = values['all-namespaces'] ? undefined : str(values, 'namespace');
  const t = kubeTarget(values, io.env);
  try {
    let objs: HsmObject[];
    try {
      objs = await listHsmObjects(t, namespace);
    } catch (e) {
      throw e instanceof CliError ? e : unreachable(t, e);
    }
    if (output === 'json') {
      io.out(
        JSON.stringify(
          objs.map((o) => ({ ...rowOf(o), conditions: conditionsOf(o).map(({ type, status, reason, message }) => ({ type, status, reason, message })) })),
          null,
          2,
        ) + '\n',
      );
      return EXIT.ok;
    }
    io.out(`cluster ${t.server} (kubeconfig ${t.source})${namespace ? `, namespace ${namespace}` : ''}\n\n`);
    if (objs.length === 0) {
      io.out('No DedicatedHsm, NtlsClientBinding or HsmHaGroup found.\n');
      return EXIT.ok;
    }
    io.out(formatTable(objs.map(rowOf), { namespaces: !namespace }).join('\n') + '\n');
    for (const o of objs) {
      io.out(`\n${o.kind} ${o.metadata.namespace}/${o.metadata.name}\n`);
      io.out(formatConditions(o).join('\n') + '\n');
    }
    const ready = objs.filter(isReady).length;
    io.out(`\n${objs.length} resources: ${ready} Ready, ${objs.length - ready} not Ready.`);
    io.out(ready < objs.length ? ' Ask why with: hsm-operator explain-failure <kind>/<name>\n' : '\n');
    return EXIT.ok;
  } finally {
    t.close();
  }
}

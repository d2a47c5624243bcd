/**
 * `hsm-operator plan -f <file|dir>`: what the operator would do with manifests, before they are applied. Reads the
 * cluster, Azure and (with --appliance) the appliances, and writes to none of them (src/plan).
 */
import { CLOUDS } from '../azure/index.js';
import { createLogger } from '../runtime/index.js';
import type { CredentialSource } from '../azure/index.js';
import type { EndpointResolver } from '../controllers/shared/index.js';
import { buildPlanContext } from '../plan/context.js';
import { ManifestError, readManifests } from '../plan/manifests.js';
import { plan, PlanClusterError } from '../plan/plan.js';
import { planJson, planText } from '../plan/render.js';
import { CliError, EXIT, parseFlags, str, UsageError, type Io, type Options } from './io.js';
import { KUBE_FLAGS, KUBE_HELP, kubeTarget } from './kube.js';
import { AZURE_FLAGS, azureSettings, type AzureSettings } from './run.js';

export const PLAN_HELP = [
  'Usage: hsm-operator plan -f <file|dir> [-f ...] [flags]',
  '',
  'Shows what the operator would do with the manifests, before anyone applies them. Each DedicatedHsm is resolved',
  'against the cluster (the object as it is, the Secrets it names) and Azure, and run through the same observe and',
  'decide the controller runs: what exists, the next action (deploy, wait for the gateway, adopt, redeploy, update',
  'tags, nothing), every check that would stop it with the troubleshooting guide\'s advice, the changes to the spec',
  'in the cluster, and the immutable changes the API server would refuse. NtlsClientBindings and HsmHaGroups are',
  'checked for what exists, what they reference and what would stop them. Nothing is written anywhere: no',
  'Kubernetes write, no Azure PUT/PATCH/DELETE, no state-changing appliance command.',
  '',
  'Flags:',
  '  -f, --filename <path>   a manifest file (YAML, several documents allowed, or JSON) or a directory (recursive)',
  ...KUBE_HELP.map((l) => (l.includes('--namespace') ? `${l} for manifests that name none (default: the context's, else default)` : l)),
  '  -o, --output <format>   text (default) or json (a stable shape for CI: apiVersion plan.dedicatedhsm.io/v1alpha1)',
  '  --appliance             also read the appliances of deployed HSMs (hsm show, package list, server.pem, TCP 1792),',
  '                          never with a password the operator recorded as rejected (default: their conditions are',
  '                          the operator\'s last reading)',
  '  --azure-cloud, --azure-endpoint, --azure-authority-host, --azure-disable-instance-discovery, --azure-ca-file,',
  '  --azure-client-id, --hsm-quota-per-stamp, --hsm-quota-per-region',
  '                          as for `hsm-operator run` (same environment variables); plan reads Azure with the',
  '                          identity it runs as (DefaultAzureCredential), or the service principal a DedicatedHsm names',
  '  -h, --help              show this help',
  '',
  `Azure clouds: ${Object.keys(CLOUDS).join(', ')}.`,
  '',
  'Exit codes: 0 nothing needs a human, 2 something needs a human (a check stops a deployment, the API server would',
  'refuse a change), 1 the plan is incomplete (a manifest, the cluster or Azure could not be read; a usage error).',
  '',
].join('\n');

/** What tests (and the sandbox) hand in instead of the defaults: the Azure identity and how devices are dialled. */
export interface PlanCommandDeps {
  azureCredential?: CredentialSource;
  resolve?: EndpointResolver;
}

const AZURE_OPTIONS = Object.fromEntries(Object.entries(AZURE_FLAGS).map(([k, d]) => [k, { type: d.type }])) as { [K in keyof typeof AZURE_FLAGS]: { type: (typeof AZURE_FLAGS)[K]['type'] } };

const PLAN_FLAGS = {
  ...KUBE_FLAGS,
  ...AZURE_OPTIONS,
  filename: { type: 'string', short: 'f', multiple: true },
  output: { type: 'string', short: 'o' },
  appliance: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

export async function planCommand(argv: string[], io: Io, interrupt: AbortSignal, deps: PlanCommandDeps = {}): Promise<number> {
  try {
    return await runPlan(argv, io, interrupt, deps);
  } catch (e) {
    // Exit 2 means "a human must act" and nothing else: a usage error is an incomplete plan (1).
    if (e instanceof UsageError) {
      io.err(`hsm-operator plan: ${e.message}\nRun 'hsm-operator plan --help' for usage.\n`);
      return EXIT.failure;
    }
    throw e;
  }
}

async function runPlan(argv: string[], io: Io, interrupt: AbortSignal, deps: PlanCommandDeps): Promise<number> {
  const { values } = parseFlags(argv, PLAN_FLAGS);
  if (values.help) {
    io.out(PLAN_HELP);
    return EXIT.ok;
  }
  const files = (values as Record<string, unknown>).filename;
  const paths = Array.isArray(files) ? files.filter((f): f is string => typeof f === 'string') : [];
  if (paths.length === 0) throw new UsageError('-f <file|dir> is required');
  const output = str(values, 'output') ?? 'text';
  if (output !== 'text' && output !== 'json') throw new UsageError(`--output must be text or json, not ${output}`);
  const azure: AzureSettings = azureSettings(values, io.env);

  let manifests;
  try {
    manifests = readManifests(paths);
  } catch (e) {
    if (e instanceof ManifestError) throw new CliError(e.message);
    throw e;
  }
  const t = kubeTarget(values, io.env);
  const pc = buildPlanContext({
    kube: t.client,
    azure: { connection: azure.connection, defaultCredential: deps.azureCredential ?? azure.credential },
    appliance: values.appliance === true,
    ...(deps.resolve ? { resolve: deps.resolve } : {}),
    ...(azure.quota ? { settings: { quotaLimits: azure.quota } } : {}),
    log: createLogger({ level: 'silent', name: 'hsm-operator-plan' }),
  });
  try {
    const namespace = str(values, 'namespace') ?? t.contextNamespace ?? 'default';
    let result;
    try {
      result = await plan({ manifests, namespace, pc, signal: interrupt });
    } catch (e) {
      if (e instanceof PlanClusterError) throw new CliError(`${e.message} (cluster ${t.server}, kubeconfig ${t.source})`);
      throw e;
    }
    if (output === 'json') io.out(planJson(result));
    else io.out(planText(result, `plan of ${paths.join(', ')} against ${t.server} (kubeconfig ${t.source}) and Azure ${azure.connection.endpoint}; nothing is written.`));
    return result.exitCode;
  } finally {
    await pc.close();
    t.close();
  }
}

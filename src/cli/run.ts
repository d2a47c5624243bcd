/**
 * `hsm-operator run`: the operator against a real cluster (in-cluster ServiceAccount or a kubeconfig). The
 * runtime's flags (src/runtime/config.ts) plus the Azure ones; SIGTERM/SIGINT drain in-flight reconciles,
 * release the Lease and exit 0; a second signal exits at once.
 */
import { readFileSync } from 'node:fs';
import { CLOUDS, connectionFor, DEFAULT_QUOTA, type ArmConnection, type CloudName, type CredentialSource, type QuotaLimits } from '../azure/index.js';
import { buildOperator } from '../operator.js';
import { DEFAULT_DIGEST_KEY_SECRET, loadTenancyPolicy, TenancyPolicyError, type TenancyPolicy } from '../controllers/shared/index.js';
import { ConfigError, configFromValues, createLogger, errorMessage, managerOptions, runtimeFlags, runtimeHelp, type RuntimeConfig } from '../runtime/index.js';
import { CliError, EXIT, parseFlags, str, UsageError, type Io, type Values } from './io.js';
import { clusterConfigured, SANDBOX_HINT } from './cluster.js';

export const AZURE_FLAGS = {
  'azure-cloud': { type: 'string', env: 'HSM_OPERATOR_AZURE_CLOUD', help: `Azure cloud: ${Object.keys(CLOUDS).join(', ')} (default AzurePublicCloud)`, arg: 'name' },
  'azure-endpoint': { type: 'string', env: 'HSM_OPERATOR_AZURE_ENDPOINT', help: 'ARM endpoint instead of the cloud\'s (token scope becomes <endpoint>/.default)', arg: 'url' },
  'azure-authority-host': { type: 'string', env: 'AZURE_AUTHORITY_HOST', help: 'Entra ID authority host instead of the cloud\'s', arg: 'url' },
  'azure-disable-instance-discovery': {
    type: 'boolean',
    env: 'HSM_OPERATOR_AZURE_DISABLE_INSTANCE_DISCOVERY',
    help: 'trust --azure-authority-host as given, without instance discovery on login.microsoftonline.com (private clouds, Azure Stack Hub; only an authority you trust)',
  },
  'azure-ca-file': { type: 'string', env: 'HSM_OPERATOR_AZURE_CA_FILE', help: 'PEM file of an extra CA to trust for ARM and the Entra ID authority (a TLS-inspecting proxy, a private cloud)', arg: 'path' },
  'azure-client-id': { type: 'string', env: 'HSM_OPERATOR_AZURE_CLIENT_ID', help: 'client ID of the user-assigned managed identity (default: AZURE_CLIENT_ID from workload identity)', arg: 'id' },
  'hsm-quota-per-stamp': { type: 'string', env: 'HSM_OPERATOR_QUOTA_PER_STAMP', help: 'Dedicated HSM quota per stamp after a granted increase (default 2, the initial quota)', arg: 'n' },
  'hsm-quota-per-region': { type: 'string', env: 'HSM_OPERATOR_QUOTA_PER_REGION', help: 'Dedicated HSM quota per region after a granted increase (default 4, the initial quota)', arg: 'n' },
  'tenancy-policy': {
    type: 'string',
    env: 'HSM_OPERATOR_TENANCY_POLICY',
    help: "YAML file of the platform team's tenancy policy: per namespace the subscriptions, resource groups and Azure identity its DedicatedHsms may use (default: none, single-tenant mode; docs/security.md)",
    arg: 'path',
  },
} as const satisfies Record<string, { type: 'string' | 'boolean'; env: string; help: string; arg?: string }>;

export function runHelp(): string {
  const azure = Object.entries(AZURE_FLAGS).map(([name, d]) => `${`  --${name}${'arg' in d ? ` <${d.arg}>` : ''}`.padEnd(44)}${d.help} (env ${d.env})`);
  return [
    runtimeHelp('hsm-operator run [flags]').trimEnd(),
    '',
    'Azure flags:',
    ...azure,
    '',
    'Azure credentials come from the default chain of @azure/identity: workload identity in AKS, else managed',
    'identity, environment (AZURE_CLIENT_ID / AZURE_TENANT_ID / AZURE_CLIENT_SECRET), Azure CLI. A DedicatedHsm can',
    'name its own service principal Secret in spec.azure.credentialsRef. With --tenancy-policy the platform team chooses',
    "the identity, subscriptions and resource groups per namespace instead (docs/security.md, Azure scope).",
    '',
    'Exit codes: 0 stopped by a signal after a clean shutdown, 1 failed to start or to stop, 2 usage.',
    '',
  ].join('\n');
}

export interface AzureSettings {
  connection: ArmConnection;
  credential: CredentialSource;
  /** The subscription's Dedicated HSM quota, when a support ticket raised it above the initial 2 per stamp / 4 per region. */
  quota?: QuotaLimits;
}

function quotaFlag(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`--${name} must be a whole number of HSMs (at least 1), not ${text}`);
  return Number(text);
}

/** The ARM connection and credential from the Azure flags (flag > environment > cloud default). */
export function azureSettings(values: Values, env: Record<string, string | undefined>): AzureSettings {
  const pick = (name: keyof typeof AZURE_FLAGS) => str(values, name) ?? (env[AZURE_FLAGS[name].env] || undefined);
  const flag = (name: keyof typeof AZURE_FLAGS): boolean => {
    const v = values[name];
    if (typeof v === 'boolean') return v;
    const text = env[AZURE_FLAGS[name].env];
    if (!text) return false;
    if (/^(true|1|yes|on)$/i.test(text)) return true;
    if (/^(false|0|no|off)$/i.test(text)) return false;
    throw new UsageError(`${AZURE_FLAGS[name].env}: "${text}" is not a boolean`);
  };
  const cloudName = pick('azure-cloud') ?? 'AzurePublicCloud';
  if (!Object.hasOwn(CLOUDS, cloudName)) throw new UsageError(`--azure-cloud: ${cloudName} is not one of ${Object.keys(CLOUDS).join(', ')}`);
  const cloud = CLOUDS[cloudName as CloudName];
  const endpoint = pick('azure-endpoint')?.replace(/\/+$/, '');
  if (endpoint && !/^https:\/\//.test(endpoint)) throw new UsageError('--azure-endpoint must be an https:// URL (the Azure SDKs send tokens only over TLS)');
  const authorityHost = pick('azure-authority-host') ?? cloud.authorityHost;
  const caFile = pick('azure-ca-file');
  let caPem: string | undefined;
  if (caFile) {
    try {
      caPem = readFileSync(caFile, 'utf8');
    } catch (e) {
      throw new CliError(`--azure-ca-file: cannot read ${caFile}: ${(e as Error).message}`);
    }
  }
  const disableInstanceDiscovery = flag('azure-disable-instance-discovery');
  const authority = { authorityHost, ...(disableInstanceDiscovery ? { disableInstanceDiscovery } : {}) };
  const settings = endpoint ? { endpoint, credentialScopes: [`${endpoint}/.default`], ...authority } : { ...cloud, ...authority };
  const clientId = pick('azure-client-id');
  const perStamp = quotaFlag('hsm-quota-per-stamp', pick('hsm-quota-per-stamp'));
  const perRegion = quotaFlag('hsm-quota-per-region', pick('hsm-quota-per-region'));
  return {
    connection: connectionFor(settings, caPem ? { caPem } : {}),
    credential: { kind: 'default', ...(clientId ? { managedIdentityClientId: clientId } : {}) },
    ...(perStamp !== undefined || perRegion !== undefined ? { quota: { perStamp: perStamp ?? DEFAULT_QUOTA.perStamp, perRegion: perRegion ?? DEFAULT_QUOTA.perRegion } } : {}),
  };
}

/** The tenancy policy the flag names, read and checked now: a bad file stops the start with what is wrong in it. */
function tenancyPolicy(values: Values, env: Record<string, string | undefined>, operatorNamespace: string): TenancyPolicy | undefined {
  const path = str(values, 'tenancy-policy') ?? (env[AZURE_FLAGS['tenancy-policy'].env] || undefined);
  if (!path) return undefined;
  try {
    return loadTenancyPolicy(path, operatorNamespace);
  } catch (e) {
    if (e instanceof TenancyPolicyError) throw new UsageError(`--tenancy-policy: ${e.message}`);
    throw e;
  }
}

/** Parses `run`'s command line: the runtime config, the Azure settings and the tenancy policy. */
export function parseRunArgs(
  argv: string[],
  env: Record<string, string | undefined>,
): { help: true } | { help: false; config: RuntimeConfig; azure: AzureSettings; tenancy: TenancyPolicy | undefined } {
  const options = { ...runtimeFlags, ...Object.fromEntries(Object.entries(AZURE_FLAGS).map(([k, d]) => [k, { type: d.type }])) };
  const { values } = parseFlags(argv, options);
  if (values.help) return { help: true };
  let config: RuntimeConfig;
  try {
    config = configFromValues(values, env);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
  // The policy's Secrets live in the operator's own namespace (where its Lease is).
  return { help: false, config, azure: azureSettings(values, env), tenancy: tenancyPolicy(values, env, config.leaderElection.namespace) };
}

/** Runs until `stop` aborts (main.ts wires SIGTERM/SIGINT to it), then drains and releases the Lease. */
export async function runCommand(argv: string[], io: Io, stop: AbortSignal): Promise<number> {
  const parsed = parseRunArgs(argv, io.env);
  if (parsed.help) {
    io.out(runHelp());
    return EXIT.ok;
  }
  const { config, azure, tenancy } = parsed;
  if (!config.kubeconfig && !config.inCluster && !clusterConfigured(io.env)) {
    throw new CliError(`no cluster configured (no in-cluster ServiceAccount, no --kubeconfig, $KUBECONFIG or ~/.kube/config). To try the operator on this machine, ${SANDBOX_HINT}.`);
  }
  const log = createLogger({ level: config.logLevel, name: 'hsm-operator' });
  const le = config.leaderElection;
  const operator = buildOperator({
    manager: managerOptions(config, { log }),
    azure: { connection: azure.connection, defaultCredential: azure.credential },
    // The operator's own namespace, whether or not leader election is on: the key must not move between runs.
    credentialDigestKey: { namespace: le.namespace, name: DEFAULT_DIGEST_KEY_SECRET },
    ...(azure.quota ? { settings: { quotaLimits: azure.quota } } : {}),
    ...(tenancy ? { tenancy } : {}),
  });
  try {
    await operator.start();
  } catch (e) {
    log.error({ err: errorMessage(e) }, 'operator failed to start');
    return EXIT.failure;
  }
  log.info(
    {
      namespaces: config.namespaces.length ? config.namespaces : 'all',
      leaderElection: le.enabled,
      arm: azure.connection.endpoint,
      tenancy: tenancy ? { source: tenancy.source, namespaces: tenancy.namespaces.size, globalIdentity: tenancy.globalIdentity } : 'single-tenant',
    },
    'operator running',
  );
  if (!stop.aborted) await new Promise((resolve) => stop.addEventListener('abort', resolve, { once: true }));
  log.info({ signal: (stop.reason as Error | undefined)?.message }, 'stopping: draining in-flight reconciles and releasing the Lease');
  try {
    await operator.stop(config.shutdownTimeoutMs);
    return EXIT.ok;
  } catch (e) {
    log.error({ err: errorMessage(e) }, 'shutdown failed');
    return EXIT.failure;
  }
}

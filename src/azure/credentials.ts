/**
 * Credentials and client options for the ARM SDKs. Production uses DefaultAzureCredential or
 * WorkloadIdentityCredential (AKS workload identity), or a ClientSecretCredential from values the caller read from
 * a Secret. Endpoint, scopes and authority host are configurable for sovereign clouds and for the HTTPS simulator,
 * whose self-signed CA is added to the trusted roots.
 */
import { createHash } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import type { TokenCredential } from '@azure/core-auth';
import { ClientSecretCredential, DefaultAzureCredential, WorkloadIdentityCredential } from '@azure/identity';
import type { AzureDedicatedHSMResourceProviderOptionalParams } from '@azure/arm-hardwaresecuritymodules';
import type { NetworkManagementClientOptionalParams } from '@azure/arm-network';

/** Where ARM and its token authority live. */
export interface CloudSettings {
  /** ARM endpoint, e.g. `https://management.azure.com`. */
  endpoint: string;
  /** Token scopes; they do NOT follow a custom endpoint by themselves. */
  credentialScopes: string[];
  /** Entra ID authority for @azure/identity, e.g. `https://login.microsoftonline.us`. */
  authorityHost?: string;
  /**
   * Trust `authorityHost` as given instead of asking Entra ID's instance discovery (on login.microsoftonline.com)
   * to validate it: for private clouds and Azure Stack Hub, whose authority the public cloud does not know, or where
   * the public cloud cannot be reached. Only set it for an authority you trust: the client secret is sent there.
   */
  disableInstanceDiscovery?: boolean;
}

export const CLOUDS = {
  AzurePublicCloud: { endpoint: 'https://management.azure.com', credentialScopes: ['https://management.azure.com/.default'], authorityHost: 'https://login.microsoftonline.com' },
  AzureUSGovernment: {
    endpoint: 'https://management.usgovcloudapi.net',
    credentialScopes: ['https://management.usgovcloudapi.net/.default'],
    authorityHost: 'https://login.microsoftonline.us',
  },
  AzureChinaCloud: { endpoint: 'https://management.chinacloudapi.cn', credentialScopes: ['https://management.chinacloudapi.cn/.default'], authorityHost: 'https://login.chinacloudapi.cn' },
} as const satisfies Record<string, CloudSettings>;

export type CloudName = keyof typeof CLOUDS;

/** Everything the SDK clients need besides the credential. */
export interface ArmConnection extends CloudSettings {
  /** PEM of an extra CA to trust (the simulator's self-signed CA); the public roots stay trusted. */
  caPem?: string;
  /**
   * Retries inside the SDK pipeline. Default 0: failures surface at once, classified, and the controller's work
   * queue does the backoff (honouring Retry-After) instead of holding a worker inside the SDK.
   */
  maxRetries?: number;
  /** Interval between LRO polls when the service sends no Retry-After (only `*AndWait` helpers use it). */
  pollIntervalMs?: number;
  userAgentPrefix?: string;
  /**
   * Asked before every request; false refuses it with nothing sent. The operator passes "this process still holds
   * the leader Lease", so a process that lost it never writes to Azure again, even from a reconcile in flight.
   */
  fence?: () => boolean;
  /**
   * Refuse every request but GET and HEAD in the pipeline, nothing sent (`hsm-operator plan`): a read-only plane by
   * construction, whatever code path asks.
   */
  readOnly?: boolean;
}

export function connectionFor(cloud: CloudName | CloudSettings, extra: Omit<ArmConnection, keyof CloudSettings> = {}): ArmConnection {
  const settings: CloudSettings = typeof cloud === 'string' ? CLOUDS[cloud] : cloud;
  return { ...settings, ...extra };
}

/** Where the credential comes from. `static` is any TokenCredential (tests, the sandbox). */
export type CredentialSource =
  | { kind: 'default'; managedIdentityClientId?: string; tenantId?: string }
  | { kind: 'workloadIdentity'; clientId?: string; tenantId?: string; tokenFilePath?: string }
  | { kind: 'clientSecret'; tenantId: string; clientId: string; clientSecret: string }
  | { kind: 'static'; credential: TokenCredential; key?: string };

/**
 * The credential for a source. The authority host, instance discovery and the extra CA of the connection apply to
 * the token requests too: a TLS-inspecting proxy or a private cloud stands in front of Entra ID as well as ARM.
 */
export function createCredential(source: CredentialSource, conn: CloudSettings & Pick<ArmConnection, 'caPem'>): TokenCredential {
  const authority = {
    ...(conn.authorityHost ? { authorityHost: conn.authorityHost } : {}),
    ...(conn.disableInstanceDiscovery ? { disableInstanceDiscovery: true } : {}),
    ...tlsOptions(conn),
  };
  switch (source.kind) {
    case 'default':
      return new DefaultAzureCredential({
        ...authority,
        ...(source.tenantId ? { tenantId: source.tenantId } : {}),
        ...(source.managedIdentityClientId ? { managedIdentityClientId: source.managedIdentityClientId, workloadIdentityClientId: source.managedIdentityClientId } : {}),
      });
    case 'workloadIdentity':
      return new WorkloadIdentityCredential({
        ...authority,
        ...(source.tenantId ? { tenantId: source.tenantId } : {}),
        ...(source.clientId ? { clientId: source.clientId } : {}),
        ...(source.tokenFilePath ? { tokenFilePath: source.tokenFilePath } : {}),
      });
    case 'clientSecret':
      return new ClientSecretCredential(source.tenantId, source.clientId, source.clientSecret, authority);
    case 'static':
      return source.credential;
  }
}

/**
 * A cache key for a credential source: a rotated client secret yields a new key (so a new client), and the key
 * itself reveals nothing (the secret enters only through a hash).
 */
export function credentialKey(source: CredentialSource): string {
  switch (source.kind) {
    case 'default':
      return `default:${source.tenantId ?? ''}:${source.managedIdentityClientId ?? ''}`;
    case 'workloadIdentity':
      return `workload:${source.tenantId ?? ''}:${source.clientId ?? ''}:${source.tokenFilePath ?? ''}`;
    case 'clientSecret':
      return `secret:${source.tenantId}:${source.clientId}:${createHash('sha256').update(source.clientSecret).digest('hex').slice(0, 16)}`;
    case 'static':
      return `static:${source.key ?? 'default'}`;
  }
}

function tlsOptions(conn: Pick<ArmConnection, 'caPem'>): { tlsOptions?: { ca: string[] } } {
  return conn.caPem ? { tlsOptions: { ca: [...rootCertificates, conn.caPem] } } : {};
}

function userAgent(conn: ArmConnection): { userAgentOptions: { userAgentPrefix: string } } {
  return { userAgentOptions: { userAgentPrefix: conn.userAgentPrefix ?? 'hsm-operator' } };
}

/** Options for `AzureDedicatedHSMResourceProvider` (1.0.0 builds URLs from `$host`, so it is set as well). */
export function hsmClientOptions(conn: ArmConnection): AzureDedicatedHSMResourceProviderOptionalParams {
  return {
    endpoint: conn.endpoint,
    $host: conn.endpoint,
    credentialScopes: conn.credentialScopes,
    retryOptions: { maxRetries: conn.maxRetries ?? 0 },
    ...userAgent(conn),
    ...tlsOptions(conn),
  };
}

/** Options for the modular `NetworkManagementClient` (39.x): scopes go under `credentials`. */
export function networkClientOptions(conn: ArmConnection): NetworkManagementClientOptionalParams {
  return {
    endpoint: conn.endpoint,
    credentials: { scopes: conn.credentialScopes },
    retryOptions: { maxRetries: conn.maxRetries ?? 0 },
    ...userAgent(conn),
    ...tlsOptions(conn),
  };
}

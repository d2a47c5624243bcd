/**
 * The operator's pod as the kustomize config (and, identically, the chart) declares it, run with podman: what a
 * kubelet would do with the Deployment's container, minus the scheduling. The container's args, environment
 * (including the downward API's namespace and name), user, read-only root, dropped capabilities, no privilege
 * escalation, the emptyDir at /tmp and the memory limit all come from the Deployment; the ServiceAccount token is
 * mounted where a pod has it, and KUBERNETES_SERVICE_HOST/PORT point at the API server, so the operator finds its
 * cluster "in cluster". With the host's network the probes and metrics would bind to every interface: the tier
 * rebinds them to loopback ports, the only change to the Deployment's args.
 */
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive } from '../../../src/sandbox/controlplane/gobuild.js';
import { exec, HOST_NETWORK, LIMITS, must, RUNTIME, tool, type Result } from './exec.js';

/** Label naming the test process that started a container, so a later run can remove what a killed run left. */
export const OWNER_LABEL = 'io.hsm-operator.image-tier.owner';

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

export interface Container {
  name: string;
  args?: string[];
  env?: EnvVar[];
  securityContext?: { runAsUser?: number; runAsGroup?: number; runAsNonRoot?: boolean; readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; capabilities?: { drop?: string[] } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  resources?: { limits?: { memory?: string } };
}

export interface Deployment {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec: {
    template: {
      spec: {
        serviceAccountName?: string;
        automountServiceAccountToken?: boolean;
        terminationGracePeriodSeconds?: number;
        securityContext?: { runAsUser?: number; runAsGroup?: number; runAsNonRoot?: boolean };
        containers: Container[];
        volumes?: { name: string; emptyDir?: { sizeLimit?: string } }[];
      };
    };
  };
}

/** Where a pod finds its ServiceAccount token, CA and namespace. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** `64Mi` -> `64m` (podman's units are binary too). */
export function podmanQuantity(q: string): string {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(q);
  if (!m) throw new Error(`unsupported quantity ${q}`);
  return `${m[1]}${m[2] ? m[2][0]!.toLowerCase() : ''}`;
}

/** Kubernetes' `$(VAR)` expansion of args from the container's environment (`$$` escapes). */
export function expand(arg: string, env: Record<string, string>): string {
  return arg.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, name: string | undefined) => (name === undefined ? '$' : (env[name] ?? all)));
}

export interface PodOptions {
  deployment: Deployment;
  image: string;
  /** Container name, and the pod's name for the downward API (POD_NAME). */
  name: string;
  /** The pod's namespace (the Deployment's). */
  namespace: string;
  /** Directory holding `token`, `ca.crt` and `namespace`, mounted read-only at SERVICE_ACCOUNT_DIR. */
  serviceAccountDir: string;
  apiServer: { host: string; port: number };
  /** Flags whose value replaces the Deployment's (e.g. { '--health-probe-bind-address': '127.0.0.1:4000' }). */
  override?: Record<string, string>;
  /** Appended to the Deployment's args (what an overlay's extraArgs would add). */
  extraArgs?: string[];
  /** Host directory -> container path, read-only (what extraVolumes/extraVolumeMounts would add). */
  mounts?: Record<string, string>;
  /** Non-secret environment added to the Deployment's (extraEnv). */
  env?: Record<string, string>;
  /** A 0600 env file with the secret environment (podman reads it once, when it creates the container). */
  envFile?: string;
}

/** The `podman run` arguments for the Deployment's first container. */
export function podmanRunArgs(o: PodOptions): string[] {
  const pod = o.deployment.spec.template.spec;
  const c = pod.containers[0];
  if (!c) throw new Error(`${o.deployment.metadata.name} has no container`);
  const sc = { ...pod.securityContext, ...c.securityContext };
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    const field = e.valueFrom?.fieldRef?.fieldPath;
    if (field === 'metadata.namespace') env[e.name] = o.namespace;
    else if (field === 'metadata.name') env[e.name] = o.name;
    else if (e.value !== undefined) env[e.name] = expand(e.value, env);
    else throw new Error(`env ${e.name}: only values and the pod's namespace and name are supported`);
  }
  Object.assign(env, o.env, { KUBERNETES_SERVICE_HOST: o.apiServer.host, KUBERNETES_SERVICE_PORT: String(o.apiServer.port) });
  const args = (c.args ?? []).map((a) => {
    const a2 = expand(a, env);
    const flag = a2.split('=')[0]!;
    return o.override?.[flag] !== undefined ? `${flag}=${o.override[flag]}` : a2;
  });
  const run: string[] = ['run', '--detach', '--name', o.name, '--label', `${OWNER_LABEL}=${process.pid}`, ...RUNTIME, ...LIMITS, ...HOST_NETWORK];
  if (sc.runAsUser !== undefined) run.push('--user', `${sc.runAsUser}:${sc.runAsGroup ?? sc.runAsUser}`);
  if (sc.runAsNonRoot && !sc.runAsUser) throw new Error('runAsNonRoot without a numeric runAsUser: the kubelet could not verify it');
  // Only what the pod mounts is writable: no tmpfs of podman's own on /run, /tmp and /var/tmp.
  if (sc.readOnlyRootFilesystem) run.push('--read-only', '--read-only-tmpfs=false');
  if (sc.allowPrivilegeEscalation === false) run.push('--security-opt', 'no-new-privileges');
  for (const cap of sc.capabilities?.drop ?? []) run.push(`--cap-drop=${cap.toLowerCase()}`);
  if (c.resources?.limits?.memory) run.push('--memory', podmanQuantity(c.resources.limits.memory));
  for (const m of c.volumeMounts ?? []) {
    const v = pod.volumes?.find((x) => x.name === m.name);
    if (!v?.emptyDir) throw new Error(`volume ${m.name}: only emptyDir volumes are supported`);
    const size = v.emptyDir.sizeLimit ? `,size=${podmanQuantity(v.emptyDir.sizeLimit)}` : '';
    run.push('--tmpfs', `${m.mountPath}:rw,mode=1777${size}`);
  }
  if (pod.automountServiceAccountToken !== false) run.push('--volume', `${o.serviceAccountDir}:${SERVICE_ACCOUNT_DIR}:ro`);
  for (const [host, path] of Object.entries(o.mounts ?? {})) run.push('--volume', `${host}:${path}:ro`);
  for (const [k, v] of Object.entries(env)) run.push('--env', `${k}=${v}`);
  if (o.envFile) run.push('--env-file', o.envFile);
  return [...run, o.image, ...args, ...(o.extraArgs ?? [])];
}

/**
 * Writes files for the container's user only: a directory and files owned by `uid`, readable by it (and root) and
 * nobody else, as the kubelet projects a ServiceAccount token for the pod's user.
 */
export function writePrivateDir(dir: string, files: Record<string, string>, uid: number, gid: number): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), content, { mode: 0o400 });
    chownSync(join(dir, name), uid, gid);
  }
  chownSync(dir, uid, gid);
  chmodSync(dir, 0o500);
}

export const podman = (args: readonly string[], timeoutMs = 120_000): Promise<Result> => exec(tool('podman'), args, { timeoutMs });
export const podmanMust = (args: readonly string[], timeoutMs = 120_000): Promise<string> => must(tool('podman'), args, { timeoutMs });

/** The container's state as `podman inspect` reports it. */
export async function inspect(name: string): Promise<{ running: boolean; exitCode: number; user: string; readOnly: boolean; capDrop: string[]; env: string[] }> {
  const [c] = JSON.parse(await podmanMust(['container', 'inspect', name])) as [
    { State: { Running: boolean; ExitCode: number }; Config: { User: string; Env: string[] }; HostConfig: { ReadonlyRootfs: boolean; CapDrop: string[] | null } },
  ];
  return { running: c.State.Running, exitCode: c.State.ExitCode, user: c.Config.User, readOnly: c.HostConfig.ReadonlyRootfs, capDrop: c.HostConfig.CapDrop ?? [], env: c.Config.Env };
}

/** stdout and stderr of the container so far. */
export async function logs(name: string): Promise<string> {
  const r = await podman(['logs', name]);
  return r.stdout + r.stderr;
}

/** Removes containers of earlier runs whose test process is gone (killed before its afterAll); returns their names. */
export async function reapOrphanContainers(): Promise<string[]> {
  const listed = JSON.parse(await podmanMust(['ps', '--all', '--filter', `label=${OWNER_LABEL}`, '--format', 'json'])) as { Names?: string[]; Labels?: Record<string, string> }[];
  const orphans = listed.filter((c) => !pidAlive(Number(c.Labels?.[OWNER_LABEL]))).flatMap((c) => c.Names ?? []);
  for (const name of orphans) await podman(['rm', '--force', '--time', '0', name]);
  return orphans;
}

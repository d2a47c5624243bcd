/**
 * The real control plane for tests: builds (once, cached outside the repo) and runs etcd + kube-apiserver on
 * loopback. Nothing here is faked: the binaries come from test/controlplane/go.mod (the default release), or from
 * another pinned module such as test/controlplane/versions/v1.37 (the versions tier).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { ensureGoBinaries, moduleHash, pidAlive, toolCacheRoot } from './gobuild.js';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** The default control plane's Go module: the release `npm test` and `npm start` run against. */
export const defaultModuleDir = join(repoRoot, 'test/controlplane');
/** Further pinned releases, one Go module per folder (the versions tier, `npm run test:versions`). */
export const versionsDir = join(repoRoot, 'test/controlplane/versions');

/** The Go module of a release folder under test/controlplane/versions (e.g. `v1.37`). */
export function versionModuleDir(name: string): string {
  const dir = join(versionsDir, name);
  if (!/^v\d+\.\d+$/.test(name) || !existsSync(join(dir, 'go.mod'))) throw new Error(`no pinned control plane ${name} in ${versionsDir}`);
  return dir;
}

/** The release folders under test/controlplane/versions, oldest first. */
export function pinnedVersionModules(): string[] {
  if (!existsSync(versionsDir)) return [];
  const minor = (n: string) => Number(/^v\d+\.(\d+)$/.exec(n)?.[1] ?? NaN);
  return readdirSync(versionsDir)
    .filter((n) => Number.isFinite(minor(n)) && existsSync(join(versionsDir, n, 'go.mod')))
    .sort((a, b) => minor(a) - minor(b));
}

export interface Binaries {
  etcd: string;
  kubeApiserver: string;
  /** kubectl of the same release, for tests that check what a user would type. */
  kubectl: string;
  /** The Kubernetes release stamped into kube-apiserver and kubectl, e.g. v1.35.4. */
  version: string;
  /** The etcd release, e.g. v3.6.5. */
  etcdVersion: string;
}

export interface ControlPlaneUsers {
  /** Token of `admin` (group system:masters). */
  adminToken: string;
  /** Token of `alice`, an authenticated user with no RBAC bindings. */
  userToken: string;
  /** Extra token users: name -> token. Bind them with RBAC in tests (e.g. the chart's ServiceAccount identity). */
  extra: Record<string, string>;
}

/** Versions read from a control plane's go.mod (default test/controlplane/go.mod): the one place they are pinned. */
export function pinnedVersions(moduleDir = defaultModuleDir): { kubernetes: string; etcd: string } {
  const mod = readFileSync(join(moduleDir, 'go.mod'), 'utf8');
  const k = /^\s*k8s\.io\/kubernetes\s+(v\S+)/m.exec(mod)?.[1];
  const e = /^\s*go\.etcd\.io\/etcd\/server\/v3\s+(v\S+)/m.exec(mod)?.[1];
  if (!k || !e) throw new Error(`${join(moduleDir, 'go.mod')} does not pin k8s.io/kubernetes and go.etcd.io/etcd/server/v3`);
  return { kubernetes: k, etcd: e };
}

function cacheRoot(): string {
  return process.env.HSM_CONTROLPLANE_CACHE ?? join(toolCacheRoot(), 'controlplane');
}

/**
 * The release's version stamped into kube-apiserver and kubectl, as the Kubernetes release build does (hack/lib/version.sh):
 * without it they report v0.0.0-master+$Format:%H$ and `kubectl version` refuses the server.
 */
function versionLdflags(version: string): string {
  const m = /^v(\d+)\.(\d+)\./.exec(version);
  if (!m) throw new Error(`not a Kubernetes release version: ${version}`);
  const vars = { gitVersion: version, gitMajor: m[1]!, gitMinor: m[2]!, gitTreeState: 'clean', buildDate: '1970-01-01T00:00:00Z' };
  return ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']
    .flatMap((pkg) => Object.entries(vars).map(([k, v]) => `-X ${pkg}.${k}=${v}`))
    .join(' ');
}

/** Where the binaries of this exact go.mod/go.sum (and version stamp) live. */
export function binaryDir(moduleDir = defaultModuleDir): string {
  const v = pinnedVersions(moduleDir);
  const stamp = createHash('sha256').update(versionLdflags(v.kubernetes)).digest('hex').slice(0, 8);
  return join(cacheRoot(), `kubernetes-${v.kubernetes}-etcd-${v.etcd}-${moduleHash(moduleDir)}-${stamp}`);
}

/**
 * Builds kube-apiserver, kubectl and etcd of one pinned module (default test/controlplane) with `go build` unless
 * the cache has them; prints progress while it builds.
 */
export async function ensureBinaries(log?: (line: string) => void, moduleDir = defaultModuleDir): Promise<Binaries> {
  const v = pinnedVersions(moduleDir);
  const bins = await ensureGoBinaries({
    moduleDir,
    cacheDir: binaryDir(moduleDir),
    what: `kube-apiserver ${v.kubernetes}, kubectl and etcd ${v.etcd}`,
    // go build names the etcd binary after its package path without the major-version suffix: "server".
    binaries: [
      { pkg: 'k8s.io/kubernetes/cmd/kube-apiserver', built: 'kube-apiserver', name: 'kube-apiserver' },
      { pkg: 'k8s.io/kubernetes/cmd/kubectl', built: 'kubectl', name: 'kubectl' },
      { pkg: 'go.etcd.io/etcd/server/v3', built: 'server', name: 'etcd' },
    ],
    ldflags: versionLdflags(v.kubernetes),
    log,
  });
  return { etcd: bins.etcd!, kubeApiserver: bins['kube-apiserver']!, kubectl: bins.kubectl!, version: v.kubernetes, etcdVersion: v.etcd };
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? res(addr.port) : rej(new Error('no port'))));
    });
  });
}

/** Record of a running control plane, written so that a later run can reap processes an interrupted run left. */
interface RunRecord {
  owner: number;
  pids: number[];
  dir: string;
}

function runsDir(): string {
  return join(cacheRoot(), 'runs');
}

/** Kills etcd/kube-apiserver left by runs whose owning process is gone (e.g. a test run killed with SIGKILL). */
export function reapOrphans(): number {
  const d = runsDir();
  if (!existsSync(d)) return 0;
  let reaped = 0;
  for (const f of readdirSync(d)) {
    const p = join(d, f);
    let rec: RunRecord;
    try {
      rec = JSON.parse(readFileSync(p, 'utf8')) as RunRecord;
    } catch {
      rmSync(p, { force: true });
      continue;
    }
    if (pidAlive(rec.owner)) continue;
    for (const pid of rec.pids) {
      if (pidAlive(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
          reaped++;
        } catch {
          /* gone */
        }
      }
    }
    rmSync(rec.dir, { recursive: true, force: true });
    rmSync(p, { force: true });
  }
  return reaped;
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>, proc?: ChildProcess, logFile?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc && proc.exitCode !== null) {
      const tail = logFile && existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-3000) : '';
      throw new Error(`${what}: process exited with ${proc.exitCode}\n${tail}`);
    }
    try {
      if (await check()) return;
    } catch {
      /* not yet */
    }
    await sleep(200);
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms`);
}

export interface StartOptions {
  /** Extra token users to create (name -> groups). */
  extraUsers?: Record<string, string[]>;
  log?: (line: string) => void;
  /**
   * Run etcd and kube-apiserver in their own process group, so a Ctrl-C in the terminal reaches only the owner,
   * which then stops the operator before the API server (the sandbox). Orphans of a killed owner are reaped by
   * the next start, as always.
   */
  detached?: boolean;
  /** The Go module that pins the release to run (default test/controlplane; see versionModuleDir). */
  moduleDir?: string;
}

/** A running etcd + kube-apiserver pair on loopback. */
export class ControlPlane {
  readonly dir: string;
  readonly users: ControlPlaneUsers;
  etcdPort = 0;
  apiPort = 0;
  private etcd?: ChildProcess;
  private apiserver?: ChildProcess;
  private readonly recordFile: string;

  private constructor(
    /** The binaries this control plane runs (kubectl of the same release included). */
    readonly bins: Binaries,
    private readonly opts: StartOptions,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'hsm-cp-'));
    const tok = () => randomBytes(16).toString('hex');
    const extra: Record<string, string> = {};
    for (const name of Object.keys(opts.extraUsers ?? {})) extra[name] = tok();
    this.users = { adminToken: tok(), userToken: tok(), extra };
    mkdirSync(runsDir(), { recursive: true });
    this.recordFile = join(runsDir(), `${process.pid}-${Date.now()}.json`);
  }

  static async start(opts: StartOptions = {}): Promise<ControlPlane> {
    reapOrphans();
    const bins = await ensureBinaries(opts.log, opts.moduleDir);
    const cp = new ControlPlane(bins, opts);
    try {
      await cp.startEtcd();
      await cp.startApiServer();
      return cp;
    } catch (e) {
      await cp.stop();
      throw e;
    }
  }

  get server(): string {
    return `https://127.0.0.1:${this.apiPort}`;
  }

  get etcdUrl(): string {
    return `http://127.0.0.1:${this.etcdPort}`;
  }

  get kubeconfigPath(): string {
    return join(this.dir, 'kubeconfig');
  }

  /** Process ids of etcd and kube-apiserver (while running). */
  pids(): number[] {
    return [this.etcd?.pid, this.apiserver?.pid].filter((p): p is number => typeof p === 'number');
  }

  private record(): void {
    const pids = this.pids();
    writeFileSync(this.recordFile, JSON.stringify({ owner: process.pid, pids, dir: this.dir } satisfies RunRecord));
  }

  private async startEtcd(): Promise<void> {
    this.etcdPort = await freePort();
    const peer = await freePort();
    const logFile = join(this.dir, 'etcd.log');
    this.etcd = spawnLogged(this.bins.etcd, [
      '--name=default',
      `--data-dir=${join(this.dir, 'etcd')}`,
      `--listen-client-urls=${this.etcdUrl}`,
      `--advertise-client-urls=${this.etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-cluster=default=http://127.0.0.1:${peer}`,
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ], logFile, this.opts.detached);
    this.record();
    await waitFor('etcd', 30_000, async () => (await fetch(`${this.etcdUrl}/health`)).ok, this.etcd, logFile);
  }

  /** Starts kube-apiserver (again, on the same port and etcd, when restarted). */
  async startApiServer(): Promise<void> {
    if (!this.apiPort) this.apiPort = await freePort();
    const pki = join(this.dir, 'pki');
    mkdirSync(pki, { recursive: true });
    const saKey = join(pki, 'sa.key');
    if (!existsSync(saKey)) {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      writeFileSync(saKey, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    }
    const tokens = [
      `${this.users.adminToken},admin,admin,"system:masters"`,
      `${this.users.userToken},alice,alice,"system:authenticated"`,
      ...Object.entries(this.opts.extraUsers ?? {}).map(([name, groups]) => `${this.users.extra[name]},${name},${name},"${groups.join(',')}"`),
    ];
    writeFileSync(join(pki, 'tokens.csv'), tokens.join('\n') + '\n');
    const logFile = join(this.dir, 'kube-apiserver.log');
    this.apiserver = spawnLogged(this.bins.kubeApiserver, [
      `--etcd-servers=${this.etcdUrl}`,
      `--secure-port=${this.apiPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      '--endpoint-reconciler-type=none',
      `--cert-dir=${pki}`,
      `--token-auth-file=${join(pki, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--disable-admission-plugins=ServiceAccount',
      `--service-account-key-file=${saKey}`,
      `--service-account-signing-key-file=${saKey}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=false',
      '--watch-cache=true',
      '--v=1',
    ], logFile, this.opts.detached);
    this.record();
    const authz = { Authorization: `Bearer ${this.users.adminToken}` };
    await waitFor('kube-apiserver /readyz', 90_000, async () => (await insecureGet(`${this.server}/readyz`, authz)).status === 200, this.apiserver, logFile);
    await waitFor('namespace default', 30_000, async () => (await insecureGet(`${this.server}/api/v1/namespaces/default`, authz)).status === 200, this.apiserver, logFile);
    writeFileSync(this.kubeconfigPath, this.kubeconfig('admin', this.users.adminToken));
  }

  /** The CA the apiserver's self-signed serving certificate chains to (it writes cert + CA into cert-dir). */
  caPem(): string {
    return readFileSync(join(this.dir, 'pki', 'apiserver.crt'), 'utf8');
  }

  /** A kubeconfig document for a token user. */
  kubeconfig(user: string, token: string): string {
    const ca = Buffer.from(this.caPem()).toString('base64');
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: local',
      '  cluster:',
      `    server: ${this.server}`,
      `    certificate-authority-data: ${ca}`,
      'users:',
      `- name: ${user}`,
      '  user:',
      `    token: ${token}`,
      'contexts:',
      `- name: ${user}@local`,
      '  context:',
      '    cluster: local',
      `    user: ${user}`,
      `current-context: ${user}@local`,
      '',
    ].join('\n');
  }

  async stopApiServer(): Promise<void> {
    await killAndWait(this.apiserver);
    this.apiserver = undefined;
  }

  async restartApiServer(): Promise<void> {
    await this.stopApiServer();
    await this.startApiServer();
  }

  /** Compacts etcd at its current revision, so watches from older resourceVersions get 410 Gone. */
  async compact(): Promise<number> {
    const range = await fetch(`${this.etcdUrl}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from('/').toString('base64') }) });
    const body = (await range.json()) as { header: { revision: string } };
    const revision = body.header.revision;
    const res = await fetch(`${this.etcdUrl}/v3/kv/compaction`, { method: 'POST', body: JSON.stringify({ revision, physical: true }) });
    if (!res.ok) throw new Error(`etcd compaction failed: ${res.status} ${await res.text()}`);
    return Number(revision);
  }

  async stop(): Promise<void> {
    await killAndWait(this.apiserver);
    await killAndWait(this.etcd);
    this.apiserver = undefined;
    this.etcd = undefined;
    rmSync(this.recordFile, { force: true });
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Synchronous last resort for process exit handlers. */
  killNow(): void {
    for (const p of [this.apiserver, this.etcd]) {
      if (p?.pid && p.exitCode === null) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    rmSync(this.recordFile, { force: true });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function spawnLogged(bin: string, args: string[], logFile: string, detached = false): ChildProcess {
  // The child writes straight into its log file, so its output survives a crash of the test process.
  const fd = openSync(logFile, 'a');
  try {
    return spawn(bin, args, { stdio: ['ignore', fd, fd], detached });
  } finally {
    closeSync(fd);
  }
}

async function killAndWait(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((res) => p.once('exit', () => res()));
  p.kill('SIGTERM');
  const timeout = sleep(10_000).then(() => 'timeout' as const);
  if ((await Promise.race([exited.then(() => 'ok' as const), timeout])) === 'timeout') {
    p.kill('SIGKILL');
    await exited;
  }
}

/** GET with TLS verification off: used only while the apiserver is booting, before its CA exists. */
async function insecureGet(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const https = await import('node:https');
  return new Promise((res, rej) => {
    const req = https.request(url, { method: 'GET', headers, rejectUnauthorized: false, timeout: 5000 }, (r) => {
      let body = '';
      r.on('data', (d: Buffer) => (body += d.toString()));
      r.on('end', () => res({ status: r.statusCode ?? 0, body }));
    });
    req.on('error', rej);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

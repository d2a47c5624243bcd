/**
 * The sandbox end to end. `npm start -- --exit-when-ready` as a user runs it (its own control plane, torn down
 * afterwards, nothing left running): the platform team's namespace and app team A's, as config/samples has them;
 * then scenarios in-process against the shared test control plane, each in its own pair of namespaces, with
 * `status` and `explain-failure` read through the CLI while the sandbox runs.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { main } from '../../src/cli/index.js';
import type { Io } from '../../src/cli/io.js';
import { packageRoot } from '../../src/cli/paths.js';
import { conditionOf } from '../../src/cli/resources.js';
import { CoreTypes, type KubeObject } from '../../src/runtime/index.js';
import { runSandbox, startSandbox, type Sandbox } from '../../src/sandbox/run.js';
import type { SampleNamespaces } from '../../src/sandbox/samples.js';
import { createNamespace } from '../support/kube.js';
import { waitFor } from '../support/wait.js';

const stateRoot = mkdtempSync(join(tmpdir(), 'hsm-sandbox-e2e-'));
afterAll(() => rmSync(stateRoot, { recursive: true, force: true }));

/** A gateway that is Updating for one second: the wait still happens, the tests stay short. */
const fastWorld = { gatewayTimeline: [['Updating', 1_000], ['Succeeded']] as const };

/** A fresh platform namespace and a fresh app namespace on the shared control plane. */
async function namespacesFor(prefix: string): Promise<SampleNamespaces> {
  return { platform: await createNamespace(`${prefix}-p`), app: await createNamespace(`${prefix}-a`) };
}

function sink() {
  let text = '';
  return { out: { write: (t: string) => void (text += t) }, text: () => text };
}

/** Runs the CLI in-process, as `hsm-operator <argv>`. */
async function cli(argv: string[]) {
  let out = '';
  let err = '';
  const io: Io = { out: (t) => void (out += t), err: (t) => void (err += t), env: { HOME: stateRoot, HSM_SANDBOX_DIR: join(stateRoot, 'none') } };
  const code = await main(argv, io);
  return { code, out, err };
}

interface Row {
  kind: string;
  name: string;
  ready: string;
  reason: string;
  conditions: { type: string; status: string; reason: string }[];
}

async function statusJson(namespace: string): Promise<Row[]> {
  const r = await cli(['status', '--kubeconfig', inject('controlPlane').kubeconfigPath, '-n', namespace, '-o', 'json']);
  expect(r.code, r.err).toBe(0);
  return JSON.parse(r.out) as Row[];
}

function alive(pattern: string): boolean {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(pattern)) return true;
    } catch {
      /* gone */
    }
  }
  return false;
}

describe('npm start -- --exit-when-ready', () => {
  it('starts its own control plane, reaches all-Ready in the default scenario, and leaves nothing running', async () => {
    const stateDir = join(stateRoot, 'own');
    // What `npm start` runs (tsx src/sandbox/main.ts), on this test's Node.
    const start = (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
    expect(start).toBe('tsx src/sandbox/main.ts');
    const child = spawn(process.execPath, [join(packageRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'src/sandbox/main.ts', '--exit-when-ready', '--timeout', '120s', '--state-dir', stateDir], {
      cwd: packageRoot,
      env: { ...process.env, HSM_SANDBOX_DIR: stateDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code, out).toBe(0);
    expect(out).toMatch(/control plane up at https:\/\/127\.0\.0\.1:\d+/);
    expect(out).toMatch(/Done in [\d.ms]+: all 5 resources are Ready\./);
    // Two namespaces, the platform team's samples first, and hints that name the right one for each kind.
    const platform = out.indexOf('applied config/samples/platform/ (the platform team) into namespace hsm-platform: ');
    const app = out.indexOf('applied config/samples/app-a/ (app team A) into namespace hsm-app-a: NtlsClientBinding/app-a, Secret/app-b-tls, NtlsClientBinding/app-b');
    expect(platform, out).toBeGreaterThan(-1);
    expect(app).toBeGreaterThan(platform);
    expect(out).toMatch(/into namespace hsm-platform: .*DedicatedHsm\/hsm-eastus-1.*HsmHaGroup\/payments-ha, HsmGrant\/app-team-a\n/);
    expect(out).toMatch(/^hsm-app-a\s+NtlsClientBinding\/app-a\s+True\s+Ready\s+client=team-a-app-a/m);
    expect(out).toMatch(/^hsm-platform\s+HsmHaGroup\/payments-ha\s+True/m);
    expect(out).toContain('explain-failure dhsm/hsm-eastus-1 -n hsm-platform');
    expect(out).toContain('explain-failure ntlsb/app-a -n hsm-app-a');
    // Not on a terminal: plain change lines, no escape sequences.
    expect(out).not.toContain('\x1b[');
    // The story is told: the gateway wait, then the deployment.
    expect(out).toMatch(/event DedicatedHsm\/hsm-eastus-1: WaitingForGateway/);
    expect(out).toMatch(/stopped in [\d.]+ s; nothing left running\./);
    const port = /control plane up at https:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1];
    expect(alive(`--secure-port=${port}`)).toBe(false);
    // The kubeconfig it wrote for kubectl is gone with the cluster it pointed at.
    expect(existsSync(join(stateDir, 'kubeconfig'))).toBe(false);
    expect(readFileSync(join(stateDir, 'operator.log'), 'utf8')).toContain('caches synced');
  }, 150_000);
});

describe('scenarios against the shared control plane', () => {
  const started: Sandbox[] = [];
  afterAll(async () => {
    for (const sb of started) await sb.stop();
  });

  async function start(scenario: string): Promise<{ sb: Sandbox; out: ReturnType<typeof sink> }> {
    const namespaces = await namespacesFor(`sandbox-${scenario}`);
    const out = sink();
    const sb = await startSandbox({
      scenario,
      kubeconfig: inject('controlPlane').kubeconfigPath,
      namespaces,
      stateDir: join(stateRoot, namespaces.platform),
      out: out.out,
      tty: false,
      world: fastWorld,
    });
    started.push(sb);
    return { sb, out };
  }

  it('quota: QuotaExceeded names the leftovers, explain-failure gives the guide section, then a human fixes it and all is Ready', async () => {
    const { sb } = await start('quota');
    const run = new AbortController();
    const timer = setTimeout(() => run.abort(new Error('timed out')), 90_000);
    const played = sb.play(run.signal);
    played.catch(() => undefined); // awaited below; a failure before that must not go unhandled
    onTestFinished(() => {
      clearTimeout(timer);
      run.abort(new Error('test finished'));
    });
    await waitFor(
      'hsm-eastus-1 QuotaExceeded',
      () => {
        const h = sb.snapshot().hsms.find((o) => o.metadata.name === 'hsm-eastus-1');
        return h && conditionOf(h, 'Ready')?.reason === 'QuotaExceeded';
      },
      60_000,
    );
    const explained = await cli(['explain-failure', 'dhsm/hsm-eastus-1', '--kubeconfig', inject('controlPlane').kubeconfigPath, '-n', sb.namespaces.platform]);
    expect(explained.code, explained.err).toBe(0);
    expect(explained.out).toContain('Ready: False, reason QuotaExceeded - needs a human');
    expect(explained.out).toContain('Guide: "Deployment failure based on quota"');
    expect(explained.out).toMatch(/hsm-failed-1.*hsm-failed-2/);
    expect(explained.out).toMatch(/Recent events:\n(.|\n)*Warning\s+QuotaExceeded/);

    const outcome = await played.finally(() => clearTimeout(timer));
    expect(outcome).toMatch(/QuotaExceeded named hsm-failed-1, hsm-failed-2; once they were deleted all 5 resources became Ready/);
    // The platform team's namespace holds the HSMs and the HA group; app team A's the bindings.
    const platformRows = await statusJson(sb.namespaces.platform);
    expect(platformRows.map((r) => `${r.kind}/${r.name}=${r.ready}`).sort()).toEqual(['DedicatedHsm/hsm-eastus-1', 'DedicatedHsm/hsm-eastus-2', 'HsmHaGroup/payments-ha'].map((n) => `${n}=True`));
    const appRows = await statusJson(sb.namespaces.app);
    expect(appRows.map((r) => `${r.kind}/${r.name}=${r.ready}`).sort()).toEqual(['NtlsClientBinding/app-a', 'NtlsClientBinding/app-b'].map((n) => `${n}=True`));
    const text = await cli(['status', '--kubeconfig', inject('controlPlane').kubeconfigPath, '-n', sb.namespaces.platform]);
    expect(text.out).toMatch(/^DedicatedHsm\/hsm-eastus-1\s+True\s+Ready\s+provisioning=Succeeded ip=10\.0\.2\.\d+ stamp=stamp1/m);
    expect(text.out).toContain('3 resources: 3 Ready, 0 not Ready.');

    // Across namespaces as the samples say: app-a's output Secret is in the app team's namespace, the HSMs' server
    // certificates keyed with the platform namespace; the appliance holds the team's clients on its granted partition only.
    type Secret = { data?: Record<string, string> };
    const output = await sb.client.getIfExists<Secret & KubeObject>(CoreTypes.secrets, sb.namespaces.app, 'app-a-ntls');
    expect(Object.keys(output?.data ?? {})).toEqual(expect.arrayContaining([`${sb.namespaces.platform}_hsm-eastus-1.pem`, `${sb.namespaces.platform}_hsm-eastus-2.pem`, 'Chrystoki.conf']));
    expect(await sb.client.getIfExists(CoreTypes.secrets, sb.namespaces.platform, 'app-a-ntls')).toBeUndefined();
    for (const name of ['hsm-eastus-1', 'hsm-eastus-2']) {
      const clients = [...(sb.world.appliances.get(name)?.state.clients.values() ?? [])];
      expect(clients.map((c) => `${c.name}:${c.partitions.join(',')}`).sort(), name).toEqual(['team-a-app-a:team-a-par', 'team-a-app-b:team-a-par']);
    }
  }, 120_000);

  it('plan: plan shows SubnetNotDelegated and QuotaExceeded before anything is applied, writes nothing, and the operator then stops where plan said', async () => {
    const { sb, out } = await start('plan');
    const run = new AbortController();
    const timer = setTimeout(() => run.abort(new Error('timed out')), 90_000);
    onTestFinished(() => {
      clearTimeout(timer);
      run.abort(new Error('test finished'));
    });
    const outcome = await sb.play(run.signal).finally(() => clearTimeout(timer));
    expect(outcome).toMatch(/plan named SubnetNotDelegated, then QuotaExceeded with hsm-failed-1, hsm-failed-2; the operator stopped exactly there/);
    const text = out.text();
    // The plan was printed before the samples were applied, and said what the operator then did.
    const planned = text.indexOf('| hsm-operator plan -f config/samples/');
    const applied = text.indexOf('applied config/samples/');
    expect(planned).toBeGreaterThan(-1);
    expect(planned).toBeLessThan(applied);
    expect(text.slice(planned, applied)).toMatch(/SubnetDelegated SubnetNotDelegated/);
    expect(text.slice(planned, applied)).toMatch(/QuotaAvailable QuotaExceeded: .*hsm-failed-1 \(stamp1\), hsm-failed-2/);
    expect(text).toContain('As planned: hsm-eastus-1 is Ready=False QuotaExceeded and no PUT was sent.');
    // App team A's bindings are planned against the HSMs they name in the platform team's namespace, under the grant of
    // the same change (judged by the operator's own grant rule); the grant itself is a kind plan leaves alone.
    const { platform, app } = sb.namespaces;
    expect(text.slice(planned, applied)).toMatch(new RegExp(`NtlsClientBinding ${app}/app-a .*\\n(.*\\n)*?.*WaitingForDedicatedHsm: DedicatedHsm ${platform}/hsm-eastus-1 does not exist yet \\(it is in this change\\)`));
    expect(text.slice(planned, applied)).toContain(`WaitingForDedicatedHsm: DedicatedHsm ${platform}/hsm-eastus-2 does not exist yet (it is in this change)`);
    expect(text.slice(planned, applied)).not.toMatch(/TargetNotFound|NotGranted|HsmGrant is not served/);
    expect(text.slice(planned, applied)).toMatch(/Not planned \(other kinds\): .*HsmGrant\/app-team-a/);
    for (const ns of [sb.namespaces.platform, sb.namespaces.app]) expect((await statusJson(ns)).every((r) => r.ready === 'True')).toBe(true);
  }, 120_000);

  it('wrong-password: exactly one failed login, CredentialRejected, recovery when the Secret is fixed', async () => {
    const { sb, out } = await start('wrong-password');
    const run = new AbortController();
    const timer = setTimeout(() => run.abort(new Error('timed out')), 90_000);
    const outcome = await sb.play(run.signal).finally(() => clearTimeout(timer));
    expect(outcome).toMatch(/CredentialRejected after exactly 1 failed login; recovered when the Secret changed; all 5 resources Ready/);
    expect(sb.world.appliances.get('hsm-eastus-1')?.counters.ssh.sshLogins.failure).toBe(1);
    expect(out.text()).toMatch(/event DedicatedHsm\/hsm-eastus-1: Warning CredentialRejected/);
    // The wrong password never shows up anywhere the sandbox printed.
    expect(out.text()).not.toContain('a-wrong-password');
  }, 120_000);

  it('cloning-domain-mismatch: runSandbox exits 0 once CloningDomainConsistent=False carries the fix', async () => {
    const namespaces = await namespacesFor('sandbox-cloning');
    const namespace = namespaces.platform;
    const out = sink();
    const code = await runSandbox({
      scenario: 'cloning-domain-mismatch',
      exitWhenReady: true,
      timeoutMs: 90_000,
      kubeconfig: inject('controlPlane').kubeconfigPath,
      namespaces,
      stateDir: join(stateRoot, namespace),
      out: out.out,
      err: out.out,
      tty: false,
      world: fastWorld,
    });
    expect(code, out.text()).toBe(0);
    expect(out.text()).toContain('payments-ha reports CloningDomainMismatch and says how to fix it');
    const group = (await statusJson(namespace)).find((r) => r.kind === 'HsmHaGroup');
    expect(group?.conditions.find((c) => c.type === 'CloningDomainConsistent')).toMatchObject({ status: 'False', reason: 'CloningDomainMismatch' });
    const explained = await cli(['explain-failure', 'hsmha/payments-ha', '--kubeconfig', inject('controlPlane').kubeconfigPath, '-n', namespace]);
    expect(explained.out).toContain('Guide: "HA Group Doesn\'t Sync"');
  }, 120_000);
});

/** The command line: dispatch, help, exit codes, errors on stderr, and `run`'s flags. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTarget } from '../../../src/cli/explain-failure.js';
import { main } from '../../../src/cli/index.js';
import type { Io } from '../../../src/cli/io.js';
import { freshValue, parseRequestArgs } from '../../../src/cli/request.js';
import { azureSettings, parseRunArgs } from '../../../src/cli/run.js';

const home = mkdtempSync(join(tmpdir(), 'hsm-cli-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** An environment with no cluster anywhere: no KUBECONFIG, an empty HOME, no sandbox state. */
const noCluster = { HOME: home, HSM_SANDBOX_DIR: join(home, 'sandbox') };

async function cli(argv: string[], env: Record<string, string | undefined> = noCluster) {
  let out = '';
  let err = '';
  const io: Io = { out: (t) => void (out += t), err: (t) => void (err += t), env };
  const code = await main(argv, io);
  return { code, out, err };
}

describe('hsm-operator', () => {
  it('--help lists every command and exits 0', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['run', 'status', 'explain-failure', 'request', 'version']) expect(r.out).toMatch(new RegExp(`^  ${c}\\s`, 'm'));
    expect(r.err).toBe('');
  });

  it('has no sandbox command: the sandbox is not part of the operator, --help points to npm start', async () => {
    const help = await cli(['--help']);
    expect(help.out).not.toMatch(/^ {2}sandbox\s/m);
    expect(help.out).toMatch(/without a cluster: run `npm start` in a checkout/);
    const r = await cli(['sandbox']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown command "sandbox"/);
  });

  it('without a command runs `run` when a cluster is configured, else explains and exits 2', async () => {
    const bare = await cli([]);
    expect(bare.code).toBe(2);
    expect(bare.out).toBe('');
    expect(bare.err).toMatch(/no command given and no cluster configured; to try the operator on this machine, run `npm start`/);
    const kubeconfig = join(home, 'unreachable-kubeconfig');
    writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n');
    const flags = await cli(['--help-me'], { ...noCluster, KUBECONFIG: kubeconfig });
    expect(flags.err).toMatch(/no command given; a cluster is configured, so: run/);
    expect(flags.code).toBe(2);
  });

  it.each(['run', 'status', 'explain-failure', 'request', 'version'])('%s --help prints usage and exits 0', async (c) => {
    const r = await cli([c, '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`Usage: hsm-operator ${c}`));
    const viaHelp = await cli(['help', c]);
    expect(viaHelp.out).toBe(r.out);
  });

  it('usage errors exit 2 with the message on stderr', async () => {
    for (const argv of [['nope'], ['status', '--bogus'], ['status', '-o', 'yaml'], ['explain-failure'], ['explain-failure', 'pods/x'], ['request'], ['request', 'repush', 'dhsm/x'], ['run', '--log-level', 'loud']]) {
      const r = await cli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.out, argv.join(' ')).toBe('');
      expect(r.err.length, argv.join(' ')).toBeGreaterThan(10);
    }
  });

  it('failures exit 1 with the message on stderr: no cluster to read or run against', async () => {
    const status = await cli(['status']);
    expect(status.code).toBe(1);
    expect(status.err).toMatch(/no cluster: pass --kubeconfig, set KUBECONFIG, or start the sandbox/);
    const run = await cli(['run', '--no-leader-elect']);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/no cluster configured.*To try the operator on this machine, run `npm start` in a checkout/);
    const missing = await cli(['explain-failure', 'dhsm/x', '--kubeconfig', join(home, 'absent')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/does not exist/);
  });

  it('status says how to reach a sandbox that is gone', async () => {
    const kc = join(home, 'dead-kubeconfig');
    writeFileSync(
      kc,
      'apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:9\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\nusers:\n- name: u\n  user:\n    token: t\ncurrent-context: c\n',
    );
    const r = await cli(['status', '--kubeconfig', kc]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot read from https:\/\/127\.0\.0\.1:9 .*ECONNREFUSED/);
  });

  it('version prints the package version', async () => {
    const r = await cli(['version']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^hsm-operator \d+\.\d+\.\d+ \(API dedicatedhsm\.io\/v1alpha1, Node\.js /);
  });
});

describe('explain-failure target', () => {
  it('takes kind/name or kind name, with any alias of the kind', () => {
    expect(parseTarget(['dhsm/hsm-eastus-1'])).toEqual({ kind: 'DedicatedHsm', name: 'hsm-eastus-1' });
    expect(parseTarget(['hsmha', 'payments-ha'])).toEqual({ kind: 'HsmHaGroup', name: 'payments-ha' });
    expect(parseTarget(['NtlsClientBinding/app-a'])).toEqual({ kind: 'NtlsClientBinding', name: 'app-a' });
    expect(() => parseTarget(['dhsm'])).toThrow(/<kind>\/<name>/);
    expect(() => parseTarget(['a/b', 'c', 'd'])).toThrow(/one argument/);
  });
});

describe('request arguments', () => {
  const parse = (argv: string[]) => {
    const r = parseRequestArgs(argv);
    if (r === 'help') throw new Error('unexpected help');
    return r;
  };

  it('takes an action and kind/name (any alias), with the trigger annotation and status field the action maps to', () => {
    const r = parse(['resync', 'dhsm/hsm-eastus-1', '-n', 'payments']);
    expect(r).toMatchObject({ kind: 'DedicatedHsm', name: 'hsm-eastus-1', value: undefined, wait: false, timeoutMs: 120_000, kube: { namespace: 'payments' } });
    expect(r.trigger).toMatchObject({ annotation: 'dedicatedhsm.io/resync-now', statusField: 'lastHandledResyncAt' });
    expect(parse(['repush', 'ntlsb', 'app-a']).trigger.annotation).toBe('dedicatedhsm.io/repush-now');
    expect(parse(['recover', 'HsmHaGroup/payments-ha', '--wait', '--timeout', '30s'])).toMatchObject({ kind: 'HsmHaGroup', wait: true, timeoutMs: 30_000, trigger: { annotation: 'dedicatedhsm.io/recover-now' } });
    expect(parse(['resync', 'hsmha/payments-ha', '--value', 'after the fix']).value).toBe('after the fix');
    expect(parseRequestArgs(['--help'])).toBe('help');
  });

  it('refuses an unknown action, an action the kind does not honour, an empty value and a bad timeout', () => {
    expect(() => parse([])).toThrow(/expected an action/);
    expect(() => parse(['reboot', 'dhsm/x'])).toThrow(/unknown action "reboot"; one of resync, repush, recover/);
    expect(() => parse(['repush', 'dhsm/x'])).toThrow(/repush applies to NtlsClientBinding, not to DedicatedHsm/);
    expect(() => parse(['recover', 'ntlsb/x'])).toThrow(/recover applies to HsmHaGroup, not to NtlsClientBinding/);
    expect(() => parse(['resync', 'pods/x'])).toThrow(/unknown kind "pods"/);
    expect(() => parse(['resync'])).toThrow(/<kind>\/<name>/);
    expect(() => parse(['resync', 'dhsm/x', '--value', ' '])).toThrow(/must not be empty/);
    expect(() => parse(['resync', 'dhsm/x', '--timeout', 'soon'])).toThrow(/not a duration/);
  });

  it('a fresh value is the current time in RFC 3339, moved on by a millisecond when the annotation already holds it', () => {
    const now = Date.parse('2026-03-01T10:00:00.000Z');
    expect(freshValue(now, undefined)).toBe('2026-03-01T10:00:00.000Z');
    expect(freshValue(now, '2026-03-01T10:00:00.000Z')).toBe('2026-03-01T10:00:00.001Z');
  });
});

describe('run flags', () => {
  it('merges the runtime flags with the Azure ones', () => {
    const r = parseRunArgs(['--namespaces=a,b', '--no-leader-elect', '--azure-cloud', 'AzureUSGovernment', '--metrics-bind-address', '127.0.0.1:0'], {});
    if (r.help) throw new Error('unexpected help');
    expect(r.config.namespaces).toEqual(['a', 'b']);
    expect(r.config.leaderElection.enabled).toBe(false);
    expect(r.azure.connection.endpoint).toBe('https://management.usgovcloudapi.net');
    expect(r.azure.connection.authorityHost).toBe('https://login.microsoftonline.us');
    expect(r.azure.credential).toEqual({ kind: 'default' });
  });

  it('a custom ARM endpoint brings its own token scope; a CA file is trusted in addition to the public roots', () => {
    const ca = join(home, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const s = azureSettings({ 'azure-endpoint': 'https://arm.example.internal/', 'azure-ca-file': ca, 'azure-client-id': 'cid' }, {});
    expect(s.connection.endpoint).toBe('https://arm.example.internal');
    expect(s.connection.credentialScopes).toEqual(['https://arm.example.internal/.default']);
    expect(s.connection.caPem).toContain('BEGIN CERTIFICATE');
    expect(s.credential).toEqual({ kind: 'default', managedIdentityClientId: 'cid' });
    // Environment, when no flag is given.
    expect(azureSettings({}, { HSM_OPERATOR_AZURE_CLOUD: 'AzureChinaCloud' }).connection.endpoint).toBe('https://management.chinacloudapi.cn');
  });

  it('instance discovery stays on unless asked off for a private authority (flag or environment)', () => {
    expect(azureSettings({}, {}).connection.disableInstanceDiscovery).toBeUndefined();
    const r = parseRunArgs(['--azure-authority-host', 'https://login.private.example', '--azure-disable-instance-discovery'], {});
    if (r.help) throw new Error('unexpected help');
    expect(r.azure.connection.authorityHost).toBe('https://login.private.example');
    expect(r.azure.connection.disableInstanceDiscovery).toBe(true);
    expect(azureSettings({}, { HSM_OPERATOR_AZURE_DISABLE_INSTANCE_DISCOVERY: 'true' }).connection.disableInstanceDiscovery).toBe(true);
    // The flag wins over the environment, either way.
    const off = parseRunArgs(['--no-azure-disable-instance-discovery'], { HSM_OPERATOR_AZURE_DISABLE_INSTANCE_DISCOVERY: 'true' });
    if (off.help) throw new Error('unexpected help');
    expect(off.azure.connection.disableInstanceDiscovery).toBeUndefined();
    expect(() => azureSettings({}, { HSM_OPERATOR_AZURE_DISABLE_INSTANCE_DISCOVERY: 'maybe' })).toThrow(/not a boolean/);
  });

  it('refuses unknown clouds and plain-http endpoints', () => {
    expect(() => azureSettings({ 'azure-cloud': 'Mars' }, {})).toThrow(/not one of/);
    expect(() => azureSettings({ 'azure-endpoint': 'http://arm' }, {})).toThrow(/https/);
  });
});

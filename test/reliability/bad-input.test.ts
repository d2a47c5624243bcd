/**
 * Scenario 7, bad input that passes admission (the invalid-manifest corpus itself is refused at admission in
 * test/integration/api/invalid.test.ts): references to Secrets that do not exist, Secrets with the wrong key or a
 * garbage certificate, a binding on a DedicatedHsm that does not exist yet, and shell metacharacters. Each is
 * reported with a reason that says what to fix, costs no device traffic while it holds, and converges once fixed.
 * Metacharacters: the CRD patterns refuse them in every field that reaches a lunash or lunacm command line; what gets
 * through (Secret values: the HA group password travels on the LunaCM command line) is quoted, so neither simulator
 * ever receives an unquoted metacharacter (their counters of refused lines stay 0).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Operator } from '../../src/operator.js';
import { safetyViolations } from '../support/reliability-invariants.js';
import { condition } from '../support/reliability-kube.js';
import { ReliabilityWorld } from '../support/reliability-world.js';

/** Every metacharacter a POSIX shell or lunash would act on, in a password the partitions really use. */
const META_PASSWORD = `p'a"s;s|w&o$(reboot)\`id\`<x>{y}*?!#~\\end`;

let rw: ReliabilityWorld;
let op: Operator;
const findings: Record<string, unknown> = {};

const deviceTraffic = (hsm: string) => {
  const c = rw.appliance(hsm).counters;
  return { connections: c.ssh.connections, logins: c.ssh.sshLogins.success + c.ssh.sshLogins.failure };
};

beforeAll(async () => {
  rw = await ReliabilityWorld.start({ prefix: 'badinput', hsms: 3, groupPasswords: [META_PASSWORD] });
  op = await rw.startInProcess();
}, 60_000);

afterAll(async () => {
  process.stderr.write(`[reliability] bad-input: ${JSON.stringify(findings)}\n`);
  await rw?.stop();
}, 60_000);

describe('bad input', () => {
  it('a Secret that does not exist: SecretNotFound, no login attempted; created later: converges', async () => {
    await rw.kube.apply(rw.hsmManifest('hsm1'));
    const hsm = await rw.kube.waitCondition('DedicatedHsm', 'hsm1', 'ApplianceReachable', { status: 'False', reason: 'SecretNotFound' }, 30_000);
    expect(condition(hsm, 'ApplianceReachable')?.message).toContain('hsm1-appliance');
    expect(deviceTraffic('hsm1').logins).toBe(0);
    await rw.kube.secret('hsm1-appliance', { password: rw.planted.find((p) => p.secret === 'hsm1-appliance')?.value ?? '' });
    await rw.kube.waitReady('DedicatedHsm', 'hsm1', 30_000);
  }, 60_000);

  it('a Secret without the key the spec names: says which key is missing, no login attempted; fixed: converges', async () => {
    const pw = rw.planted.find((p) => p.secret === 'hsm2-appliance')?.value ?? '';
    await rw.kube.secret('hsm2-appliance', { pasword: pw });
    await rw.kube.apply(rw.hsmManifest('hsm2'));
    const hsm = await rw.kube.waitCondition('DedicatedHsm', 'hsm2', 'ApplianceReachable', { status: 'False', reason: 'SecretNotFound' }, 30_000);
    expect(condition(hsm, 'ApplianceReachable')?.message).toMatch(/"?password"?/);
    expect(deviceTraffic('hsm2').logins).toBe(0);
    await rw.kube.setSecret('hsm2-appliance', { password: pw });
    await rw.kube.waitReady('DedicatedHsm', 'hsm2', 30_000);
  }, 60_000);

  it('a garbage client certificate: CertificateInvalid, nothing uploaded; a real one: converges', async () => {
    await rw.kube.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'garbage-tls' }, type: 'Opaque', stringData: { 'tls.crt': '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n', 'tls.key': 'garbage' } });
    const uploads = () => rw.appliance('hsm1').counters.commands.byName['scp upload'] ?? 0;
    const before = uploads();
    await rw.kube.apply(rw.bindingManifest('app-garbage', { targets: [{ hsm: 'hsm1', partitions: ['par0'] }], secretRef: 'garbage-tls' }));
    const b = await rw.kube.waitCondition('NtlsClientBinding', 'app-garbage', 'CertificateValid', { status: 'False', reason: 'CertificateInvalid' }, 30_000);
    findings.garbageCert = condition(b, 'CertificateValid')?.message;
    expect(condition(b, 'CertificateValid')?.message).toContain('garbage-tls');
    expect(uploads()).toBe(before);
    expect(rw.appliance('hsm1').state.clients.has('app-garbage')).toBe(false);
    const cert = await rw.tlsSecret('real-tls', 'app-garbage.apps.internal');
    await rw.kube.patch('NtlsClientBinding', 'app-garbage', { spec: { certificate: { secretRef: { name: 'real-tls' } } } });
    await rw.kube.waitReady('NtlsClientBinding', 'app-garbage', 30_000);
    expect(rw.appliance('hsm1').state.clients.get('app-garbage')?.certPem.trim()).toBe(cert.certPem.trim());
  }, 60_000);

  it('a binding on a DedicatedHsm that does not exist yet waits, then converges when it appears', async () => {
    await rw.kube.apply(rw.bindingManifest('app-early', { targets: [{ hsm: 'hsm3', partitions: ['par0'] }] }));
    const b = await rw.kube.waitCondition('NtlsClientBinding', 'app-early', 'Registered', { status: 'False', reason: 'TargetNotFound' }, 30_000);
    expect(condition(b, 'Registered')?.message).toContain('hsm3');
    expect(deviceTraffic('hsm3').connections).toBe(0);
    await rw.deployHsm('hsm3');
    await rw.kube.waitReady('NtlsClientBinding', 'app-early', 60_000);
    expect(rw.appliance('hsm3').state.clients.get('app-early')?.partitions).toEqual(['par0']);
  }, 90_000);

  it('shell metacharacters: refused at admission wherever they would reach a command line', async () => {
    const attempts = [
      rw.bindingManifest('meta-client', { clientName: 'app;reboot', targets: [{ hsm: 'hsm1', partitions: ['par0'] }] }),
      rw.bindingManifest('meta-partition', { targets: [{ hsm: 'hsm1', partitions: ['par0$(id)'] }] }),
      rw.bindingManifest('meta-hostname', { hostname: 'a`id`.example', targets: [{ hsm: 'hsm1', partitions: ['par0'] }] }),
      rw.haGroupManifest('meta-label', { label: 'g|x', members: [{ hsm: 'hsm1' }], passwordSecret: 'ha-password-0' }),
      rw.haGroupManifest('meta-member', { label: 'gx', members: [{ hsm: 'hsm1', partitionLabel: "par0'x" }], passwordSecret: 'ha-password-0' }),
      { ...rw.hsmManifest('hsm3'), metadata: { name: 'meta-user' }, spec: { ...(rw.hsmManifest('hsm3').spec as object), appliance: { credentialsRef: { name: 'x' }, username: 'admin;id', hostKey: rw.appliance('hsm3').hostKeyFingerprint } } },
      { ...rw.hsmManifest('hsm3'), metadata: { name: 'meta-host' }, spec: { ...(rw.hsmManifest('hsm3').spec as object), appliance: { credentialsRef: { name: 'x' }, host: 'h&x', hostKey: rw.appliance('hsm3').hostKeyFingerprint } } },
    ];
    const refused: string[] = [];
    for (const m of attempts) {
      const r = await rw.kube.create(m);
      if (r.status === 422) refused.push(m.metadata.name);
    }
    expect(refused).toEqual(attempts.map((m) => m.metadata.name));
  }, 30_000);

  it('what gets through is quoted: an HA group password full of metacharacters works, and no simulator saw an unquoted one', async () => {
    await rw.groupSecrets([{ index: 0, members: [{ hsm: 'hsm1' }, { hsm: 'hsm2' }] }]);
    // Allowed by the patterns, unusual for a shell: dots, underscores, dashes in labels and client names.
    await rw.kube.apply(rw.haGroupManifest('ha-meta', { label: 'ha.meta_-x', members: [{ hsm: 'hsm1' }, { hsm: 'hsm2' }], passwordSecret: 'ha-password-0' }));
    await rw.kube.apply(rw.bindingManifest('odd.name-x', { clientName: 'odd.name_-x', targets: [{ hsm: 'hsm2', partitions: ['par0'] }] }));
    await rw.kube.waitReady('HsmHaGroup', 'ha-meta', 60_000);
    await rw.kube.waitReady('NtlsClientBinding', 'odd.name-x', 60_000);
    expect(rw.world.lunacm.state.groups.get('ha.meta_-x')?.members.length).toBe(2);
    expect(rw.world.lunacm.counters.passwordAttempts).toEqual({ success: 2, failure: 0 });
    expect(rw.world.lunacm.counters.commands.rejected).toBe(0);
    for (const name of rw.hsmNames) expect(rw.appliance(name).counters.commands.rejected, name).toBe(0);
    expect(safetyViolations(rw.world)).toEqual([]);
    void op;
  }, 90_000);
});

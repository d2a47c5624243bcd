/**
 * The Helm chart and the kustomize config, rendered by the real helm and kustomize: lint is clean, values are
 * validated by the schema, the pod is hardened, RBAC is exactly src/rbac.ts, metrics are secure by default,
 * optional parts (ServiceMonitor, NetworkPolicy, extra volumes, ...) appear only when asked for (and tolerate
 * missing files), the destructive-actions admission policy is src/destructive-actions.ts with the values filled in,
 * and kustomize renders the same operator as the chart.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DESTRUCTIVE_DEFAULTS, POLICY_VALIDATIONS, policyVariables } from '../../../src/destructive-actions.js';
import { USER_ROLES, clusterRules, metricsAuthRules, metricsReaderRules, namespaceRules, servedNamespaceRules, userRules } from '../../../src/rbac.js';
import { ensureTools } from '../../support/tools.js';
import { ALL_ON, chartDir, find, helmLint, helmNotes, helmTemplate, kinds, kustomizeBuild, kustomizeOverlay, type Manifest } from './render.js';

const CLIENT_ID = '6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const TENANT_ID = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4e';

interface Container {
  name: string;
  image: string;
  args: string[];
  env: { name: string; value?: string }[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  securityContext: Record<string, unknown>;
  resources: Record<string, unknown>;
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSpec {
  serviceAccountName: string;
  securityContext: Record<string, unknown>;
  containers: Container[];
  volumes: { name: string; emptyDir?: object; secret?: { secretName: string }; configMap?: { name: string } }[];
}
interface Deployment extends Manifest {
  spec: { replicas: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
}
const deployment = (ms: Manifest[]) => find(ms, 'Deployment') as Deployment;
const pod = (ms: Manifest[]) => deployment(ms).spec.template.spec;
const container = (ms: Manifest[]) => pod(ms).containers[0]!;
type Role = Manifest & { rules: unknown };
type Binding = Manifest & { subjects: unknown[]; roleRef: { kind: string; name: string } };
interface Endpoint {
  port: string;
  path: string;
  honorLabels?: boolean;
  scheme?: string;
  bearerTokenFile?: string;
  authorization?: unknown;
  tlsConfig?: unknown;
}
type ServiceMonitor = Manifest & { spec: { selector: { matchLabels: Record<string, string> }; namespaceSelector: unknown; endpoints: Endpoint[] } };
interface PolicyPort {
  port: number;
  protocol: string;
}
interface NetworkPolicy extends Manifest {
  spec: {
    podSelector: { matchLabels: Record<string, string> };
    policyTypes: string[];
    ingress: { ports: PolicyPort[]; from?: unknown[] }[];
    egress: { to?: { ipBlock?: { cidr: string }; namespaceSelector?: unknown; podSelector?: unknown }[]; ports?: PolicyPort[] }[];
  };
}

beforeAll(async () => {
  await ensureTools();
});

describe('helm chart', () => {
  let defaults: Manifest[];
  beforeAll(async () => {
    defaults = await helmTemplate({ set: [`azure.workloadIdentity.clientId=${CLIENT_ID}`] });
  });

  it('lints clean with default values and with every option on', async () => {
    const out = await helmLint();
    expect(out).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(out).not.toMatch(/\[(WARNING|ERROR)\]/);
    const all = await helmLint({ set: ALL_ON });
    expect(all).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(all).not.toMatch(/\[(WARNING|ERROR)\]/);
  });

  it('renders the operator: ServiceAccount, RBAC, Deployment, metrics Service, disruption budget', () => {
    expect(defaults.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual([
      'ClusterRole/hsm-operator-cluster-scoped',
      'ClusterRole/hsm-operator-edit',
      'ClusterRole/hsm-operator-manager',
      'ClusterRole/hsm-operator-metrics-auth',
      'ClusterRole/hsm-operator-metrics-reader',
      'ClusterRole/hsm-operator-view',
      'ClusterRoleBinding/hsm-operator-cluster-scoped',
      'ClusterRoleBinding/hsm-operator-manager',
      'ClusterRoleBinding/hsm-operator-metrics-auth',
      'Deployment/hsm-operator',
      'PodDisruptionBudget/hsm-operator',
      'Role/hsm-operator-leader-election',
      'RoleBinding/hsm-operator-leader-election',
      'Service/hsm-operator-metrics',
      'ServiceAccount/hsm-operator',
      'ValidatingAdmissionPolicy/hsm-operator-destructive-actions',
      'ValidatingAdmissionPolicyBinding/hsm-operator-destructive-actions',
    ]);
    for (const m of defaults.filter((x) => !x.kind.startsWith('Cluster') && !x.kind.startsWith('ValidatingAdmission'))) expect(m.metadata.namespace, m.kind).toBe('hsm-operator-system');
  });

  it('runs 2 replicas that elect a leader through a Lease in their own namespace', () => {
    const d = deployment(defaults);
    expect(d.spec.replicas).toBe(2);
    const args = container(defaults).args;
    expect(args[0]).toBe('run');
    expect(args).toEqual(expect.arrayContaining(['--leader-elect', '--leader-election-namespace=$(POD_NAMESPACE)', '--leader-election-id=hsm-operator-leader']));
    expect(container(defaults).env).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'POD_NAMESPACE' }), expect.objectContaining({ name: 'POD_NAME' })]));
  });

  it('refuses several replicas without leader election', async () => {
    await expect(helmTemplate({ set: ['leaderElection.enabled=false'] })).rejects.toThrow(/needs leaderElection.enabled/);
    const single = await helmTemplate({ set: ['leaderElection.enabled=false', 'replicaCount=1'] });
    expect(container(single).args).toContain('--no-leader-elect');
    expect(kinds(single)).not.toContain('Role');
    expect(kinds(single)).not.toContain('PodDisruptionBudget');
  });

  it('wires Azure workload identity: ServiceAccount annotations and the pod label', async () => {
    const sa = find(defaults, 'ServiceAccount');
    expect(sa.metadata.annotations).toEqual({ 'azure.workload.identity/client-id': CLIENT_ID });
    expect(deployment(defaults).spec.template.metadata.labels['azure.workload.identity/use']).toBe('true');
    expect(pod(defaults).serviceAccountName).toBe(sa.metadata.name);

    const withTenant = await helmTemplate({ set: [`azure.workloadIdentity.clientId=${CLIENT_ID}`, `azure.workloadIdentity.tenantId=${TENANT_ID}`, 'serviceAccount.annotations.team=hsm'] });
    expect(find(withTenant, 'ServiceAccount').metadata.annotations).toEqual({
      'azure.workload.identity/client-id': CLIENT_ID,
      'azure.workload.identity/tenant-id': TENANT_ID,
      team: 'hsm',
    });

    const off = await helmTemplate({ set: ['azure.workloadIdentity.enabled=false', `azure.workloadIdentity.clientId=${CLIENT_ID}`] });
    expect(find(off, 'ServiceAccount').metadata.annotations).toBeUndefined();
    expect(deployment(off).spec.template.metadata.labels['azure.workload.identity/use']).toBeUndefined();
  });

  it('warns in the notes when workload identity has no client ID', async () => {
    expect(await helmNotes()).toMatch(/WARNING: azure.workloadIdentity.enabled is true but azure.workloadIdentity.clientId is empty/);
    expect(await helmNotes({ set: [`azure.workloadIdentity.clientId=${CLIENT_ID}`] })).toContain('system:serviceaccount:hsm-operator-system:hsm-operator');
  });

  it('hardens the pod: non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp, /tmp only', () => {
    expect(pod(defaults).securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container(defaults).securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container(defaults).volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(pod(defaults).volumes).toEqual([{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }]);
    expect(container(defaults).resources).toMatchObject({ requests: { cpu: expect.any(String), memory: expect.any(String) }, limits: { memory: expect.any(String) } });
  });

  it('probes /healthz and /readyz on 8081 and serves metrics on 8080 through a Service', () => {
    const c = container(defaults);
    expect(c.ports).toEqual([
      { name: 'metrics', containerPort: 8080, protocol: 'TCP' },
      { name: 'health', containerPort: 8081, protocol: 'TCP' },
    ]);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health' });
    expect(c.args).toEqual(expect.arrayContaining(['--metrics-bind-address=:8080', '--metrics-secure', '--health-probe-bind-address=:8081']));
    const svc = find(defaults, 'Service') as Manifest & { spec: { selector: Record<string, string>; ports: { port: number; targetPort: string }[] } };
    expect(svc.spec.ports).toEqual([{ name: 'metrics', port: 8080, targetPort: 'metrics', protocol: 'TCP' }]);
    expect(deployment(defaults).spec.template.metadata.labels).toMatchObject(svc.spec.selector);
  });

  it('grants exactly the rules of src/rbac.ts, the Lease only in the release namespace', () => {
    expect((find(defaults, 'ClusterRole', 'hsm-operator-manager') as Role).rules).toEqual(clusterRules());
    expect((find(defaults, 'ClusterRole', 'hsm-operator-metrics-auth') as Role).rules).toEqual(metricsAuthRules());
    expect((find(defaults, 'ClusterRole', 'hsm-operator-metrics-reader') as Role).rules).toEqual(metricsReaderRules());
    const role = find(defaults, 'Role') as Role;
    expect(role.rules).toEqual(namespaceRules());
    expect(role.metadata.namespace).toBe('hsm-operator-system');
    const sa = find(defaults, 'ServiceAccount').metadata.name;
    for (const b of defaults.filter((m) => m.kind.endsWith('RoleBinding')) as Binding[]) {
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: sa, namespace: 'hsm-operator-system' }]);
      expect(find(defaults, b.roleRef.kind, b.roleRef.name)).toBeDefined();
    }
  });

  it('binds the rules per namespace when watchNamespaces restricts the operator; the cluster-scoped reviews stay cluster-wide', async () => {
    const ms = await helmTemplate({ set: ['watchNamespaces={team-a,team-b}'] });
    // Namespace labels (grants' namespaceSelector) are cluster-scoped too.
    expect(ms.filter((m) => m.kind === 'ClusterRoleBinding').map((m) => m.metadata.name).sort()).toEqual(['hsm-operator-cluster-scoped', 'hsm-operator-metrics-auth']);
    const bindings = ms.filter((m) => m.kind === 'RoleBinding' && (m as Binding).roleRef.kind === 'ClusterRole');
    expect(bindings.map((b) => b.metadata.namespace).sort()).toEqual(['team-a', 'team-b']);
    expect(container(ms).args).toContain('--namespaces=team-a,team-b');
    // Secrets are watched only there: a Role per served namespace, bound to the operator's ServiceAccount.
    const watchRoles = ms.filter((m) => m.kind === 'Role' && m.metadata.name === 'hsm-operator-secrets-watch') as Role[];
    expect(watchRoles.map((r) => r.metadata.namespace).sort()).toEqual(['team-a', 'team-b']);
    for (const r of watchRoles) expect(r.rules).toEqual(servedNamespaceRules());
    const watchBindings = ms.filter((m) => m.kind === 'RoleBinding' && (m as Binding).roleRef.kind === 'Role' && (m as Binding).roleRef.name === 'hsm-operator-secrets-watch');
    expect(watchBindings.map((b) => b.metadata.namespace).sort()).toEqual(['team-a', 'team-b']);
  });

  it('serving all namespaces, nothing lists or watches Secrets: no served-namespace Role, get only in the ClusterRole', () => {
    expect(defaults.filter((m) => m.metadata.name === 'hsm-operator-secrets-watch')).toEqual([]);
    const rules = (find(defaults, 'ClusterRole', 'hsm-operator-manager') as Role).rules as { resources: string[]; verbs: string[] }[];
    const secretVerbs = rules.filter((r) => r.resources.includes('secrets')).flatMap((r) => r.verbs);
    expect(secretVerbs).not.toContain('list');
    expect(secretVerbs).not.toContain('watch');
    expect(secretVerbs).toContain('get');
  });

  it('adds a ServiceMonitor only when asked for: honorLabels, HTTPS and the scraper\'s token', async () => {
    expect(kinds(defaults)).not.toContain('ServiceMonitor');
    const ms = await helmTemplate({ set: ['metrics.serviceMonitor.enabled=true', 'metrics.serviceMonitor.labels.release=prom'] });
    const sm = find(ms, 'ServiceMonitor') as ServiceMonitor;
    expect(sm.metadata.labels?.release).toBe('prom');
    expect(sm.spec.endpoints).toEqual([
      {
        port: 'metrics',
        path: '/metrics',
        interval: '30s',
        scrapeTimeout: '10s',
        honorLabels: true,
        scheme: 'https',
        bearerTokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
        tlsConfig: { insecureSkipVerify: true },
      },
    ]);
    expect(find(ms, 'Service').metadata.labels).toMatchObject(sm.spec.selector.matchLabels);

    const own = await helmTemplate({
      set: [
        'metrics.serviceMonitor.enabled=true',
        'metrics.serviceMonitor.authorization.type=Bearer',
        'metrics.serviceMonitor.authorization.credentials.name=prom-token',
        'metrics.serviceMonitor.authorization.credentials.key=token',
        'metrics.serviceMonitor.tlsConfig.insecureSkipVerify=false',
        'metrics.serviceMonitor.tlsConfig.serverName=hsm-operator-metrics.hsm-operator-system.svc',
      ],
    });
    const e = (find(own, 'ServiceMonitor') as ServiceMonitor).spec.endpoints[0]!;
    expect(e.authorization).toEqual({ type: 'Bearer', credentials: { name: 'prom-token', key: 'token' } });
    expect(e.bearerTokenFile).toBeUndefined();
    expect(e.tlsConfig).toEqual({ insecureSkipVerify: false, serverName: 'hsm-operator-metrics.hsm-operator-system.svc' });

    const plain = await helmTemplate({ set: ['metrics.serviceMonitor.enabled=true', 'metrics.secure=false'] });
    expect((find(plain, 'ServiceMonitor') as ServiceMonitor).spec.endpoints).toEqual([{ port: 'metrics', path: '/metrics', interval: '30s', scrapeTimeout: '10s', honorLabels: true }]);
  });

  it('says in the notes how to let Prometheus scrape the secure metrics', async () => {
    const notes = await helmNotes({ set: [`azure.workloadIdentity.clientId=${CLIENT_ID}`] });
    expect(notes).toContain('https://hsm-operator-metrics.hsm-operator-system.svc:8080/metrics');
    expect(notes).toMatch(/ClusterRole\s+hsm-operator-metrics-reader \(or list it in metrics.readerSubjects\)/);
    expect(await helmNotes({ set: ['metrics.secure=false'] })).toContain('http://hsm-operator-metrics.hsm-operator-system.svc:8080/metrics, open to anyone');
  });

  it('secures metrics by default; off, it serves plain HTTP and needs no review RBAC', async () => {
    const plain = await helmTemplate({ set: ['metrics.secure=false'] });
    expect(container(plain).args).toContain('--no-metrics-secure');
    expect(container(plain).args).not.toContain('--metrics-secure');
    expect(plain.filter((m) => m.metadata.name.includes('metrics')).map((m) => `${m.kind}/${m.metadata.name}`)).toEqual(['Service/hsm-operator-metrics']);
  });

  it('mounts a certificate Secret for the metrics endpoint and binds scrapers to the metrics-reader role when asked', async () => {
    const ms = await helmTemplate({
      set: ['metrics.certSecret=metrics-tls', 'metrics.readerSubjects[0].kind=ServiceAccount', 'metrics.readerSubjects[0].name=prometheus', 'metrics.readerSubjects[0].namespace=monitoring'],
    });
    expect(container(ms).args).toEqual(expect.arrayContaining(['--metrics-secure', '--metrics-cert-path=/etc/hsm-operator/metrics-tls']));
    expect(container(ms).volumeMounts).toContainEqual({ name: 'metrics-tls', mountPath: '/etc/hsm-operator/metrics-tls', readOnly: true });
    expect(pod(ms).volumes).toContainEqual({ name: 'metrics-tls', secret: { secretName: 'metrics-tls' } });
    const reader = find(ms, 'ClusterRoleBinding', 'hsm-operator-metrics-reader') as Binding;
    expect(reader.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'hsm-operator-metrics-reader' });
    expect(reader.subjects).toEqual([{ kind: 'ServiceAccount', name: 'prometheus', namespace: 'monitoring' }]);
    await expect(helmTemplate({ set: ['metrics.readerSubjects[0].kind=Robot', 'metrics.readerSubjects[0].name=x'] })).rejects.toThrow(/readerSubjects/);
  });

  it('adds extra volumes, mounts and arguments (e.g. the CA file of a sovereign cloud or a proxy) after its own', async () => {
    const ms = await helmTemplate({
      set: [
        'extraVolumes[0].name=azure-ca',
        'extraVolumes[0].configMap.name=corporate-proxy-ca',
        'extraVolumeMounts[0].name=azure-ca',
        'extraVolumeMounts[0].mountPath=/etc/hsm-operator/azure-ca',
        'extraVolumeMounts[0].readOnly=true',
        'extraArgs={--azure-ca-file=/etc/hsm-operator/azure-ca/ca.crt,--azure-cloud=AzureUSGovernment}',
      ],
    });
    expect(pod(ms).volumes).toEqual([
      { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
      { name: 'azure-ca', configMap: { name: 'corporate-proxy-ca' } },
    ]);
    expect(container(ms).volumeMounts).toEqual([
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'azure-ca', mountPath: '/etc/hsm-operator/azure-ca', readOnly: true },
    ]);
    expect(container(ms).args.slice(-2)).toEqual(['--azure-ca-file=/etc/hsm-operator/azure-ca/ca.crt', '--azure-cloud=AzureUSGovernment']);
    await expect(helmTemplate({ set: ['extraVolumeMounts[0].name=azure-ca'] })).rejects.toThrow(/mountPath/);
    await expect(helmTemplate({ set: ['extraVolumes[0].configMap.name=x'] })).rejects.toThrow(/name/);
  });

  it('adds a NetworkPolicy only when enabled: scrapes and probes in; DNS, API server, ARM, SSH and NTLS out', async () => {
    expect(kinds(defaults)).not.toContain('NetworkPolicy');
    await expect(helmTemplate({ set: ['networkPolicy.enabled=true'] })).rejects.toThrow(/networkPolicy.egress.apiServer.cidrs/);
    await expect(helmTemplate({ set: ['networkPolicy.enabled=true', 'networkPolicy.egress.apiServer.cidrs={api.example.com}'] })).rejects.toThrow(/cidrs/);
    const ms = await helmTemplate({
      set: [
        'networkPolicy.enabled=true',
        'networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name=monitoring',
        'networkPolicy.egress.apiServer.cidrs={20.50.60.70/32}',
        'networkPolicy.egress.arm.cidrs={20.37.0.0/16,40.126.0.0/18}',
        'networkPolicy.egress.appliances.cidrs={10.2.1.0/24,10.3.1.0/24}',
      ],
    });
    const np = find(ms, 'NetworkPolicy') as NetworkPolicy;
    expect(np.metadata.namespace).toBe('hsm-operator-system');
    expect(np.spec.podSelector.matchLabels).toEqual(deployment(ms).spec.selector.matchLabels);
    expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(np.spec.ingress).toEqual([
      { ports: [{ port: 8080, protocol: 'TCP' }], from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }] },
      { ports: [{ port: 8081, protocol: 'TCP' }] },
    ]);
    const cidr = (...c: string[]) => c.map((x) => ({ ipBlock: { cidr: x } }));
    expect(np.spec.egress).toEqual([
      {
        to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
        ports: [
          { port: 53, protocol: 'UDP' },
          { port: 53, protocol: 'TCP' },
        ],
      },
      { to: cidr('20.50.60.70/32'), ports: [{ port: 443, protocol: 'TCP' }] },
      { to: cidr('20.37.0.0/16', '40.126.0.0/18'), ports: [{ port: 443, protocol: 'TCP' }] },
      {
        to: cidr('10.2.1.0/24', '10.3.1.0/24'),
        ports: [
          { port: 22, protocol: 'TCP' },
          { port: 1792, protocol: 'TCP' },
        ],
      },
    ]);
    // Every egress rule names its destinations: a rule without `to` would open its ports to the whole world.
    for (const rule of np.spec.egress) expect(rule.to?.length).toBeGreaterThan(0);

    const minimal = find(await helmTemplate({ set: ['networkPolicy.enabled=true', 'networkPolicy.egress.dns=false', 'networkPolicy.egress.apiServer.cidrs={10.0.0.1/32}'] }), 'NetworkPolicy') as NetworkPolicy;
    expect(minimal.spec.egress).toEqual([{ to: cidr('10.0.0.1/32'), ports: [{ port: 443, protocol: 'TCP' }] }]);
    expect(minimal.spec.ingress.map((r) => r.from)).toEqual([undefined, undefined]);
  });

  it('aggregates <release>-edit and <release>-view into the built-in roles, unless turned off', async () => {
    for (const u of USER_ROLES) {
      const r = find(defaults, 'ClusterRole', `hsm-operator-${u.suffix}`) as Role;
      expect(r.rules).toEqual(userRules(u));
      const aggregation = Object.entries(r.metadata.labels ?? {}).filter(([k]) => k.startsWith('rbac.authorization.k8s.io/aggregate-to-'));
      expect(Object.fromEntries(aggregation)).toEqual(Object.fromEntries(u.aggregateTo.map((to) => [`rbac.authorization.k8s.io/aggregate-to-${to}`, 'true'])));
    }
    const other = await helmTemplate({ release: 'hsm-prod' });
    expect(other.filter((m) => /-(edit|view)$/.test(m.metadata.name)).map((m) => m.metadata.name).sort()).toEqual(['hsm-prod-hsm-operator-edit', 'hsm-prod-hsm-operator-view']);
    const off = await helmTemplate({ set: ['rbac.aggregateToDefaultRoles=false'] });
    expect(off.filter((m) => /-(edit|view)$/.test(m.metadata.name))).toEqual([]);
  });

  it('declares the Kubernetes versions it supports: 1.32 (AKS LTS) and newer', async () => {
    const chart = parse(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as { kubeVersion?: string };
    expect(chart.kubeVersion).toBe('>=1.32.0-0');
    await expect(helmTemplate({ kubeVersion: '1.31.9' })).rejects.toThrow(/kubeVersion/);
    for (const v of ['1.32.0', '1.34.4', '1.37.0', '1.33.2-gke.100']) expect(kinds(await helmTemplate({ kubeVersion: v }))).toContain('Deployment');
  });

  it('validates values against values.schema.json', async () => {
    await expect(helmTemplate({ set: ['replicaCount=0'] })).rejects.toThrow(/replicaCount/);
    await expect(helmTemplate({ set: ['azure.workloadIdentity.clientId=not-a-guid'] })).rejects.toThrow(/clientId/);
    await expect(helmTemplate({ set: ['logging.level=chatty'] })).rejects.toThrow(/level/);
    await expect(helmTemplate({ values: 'replicas: 3\n' })).rejects.toThrow(/additional properties 'replicas' not allowed/);
  });

  it('ships the generated CRDs in crds/', async () => {
    const ms = await helmTemplate({ includeCrds: true });
    expect(ms.filter((m) => m.kind === 'CustomResourceDefinition').map((m) => m.metadata.name).sort()).toEqual([
      'dedicatedhsms.dedicatedhsm.io',
      'hsmgrants.dedicatedhsm.io',
      'hsmhagroups.dedicatedhsm.io',
      'ntlsclientbindings.dedicatedhsm.io',
    ]);
  });
});

describe('optional monitoring files', () => {
  // Copies of the chart with other files/, to show the templates tolerate missing or different files.
  let work: string;
  const copy = (name: string, files: Record<string, string>) => {
    const dir = join(work, name, 'hsm-operator');
    cpSync(chartDir, dir, { recursive: true });
    rmSync(join(dir, 'files'), { recursive: true, force: true });
    if (Object.keys(files).length) mkdirSync(join(dir, 'files'));
    for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, 'files', f), text);
    return dir;
  };
  const on = ['metrics.prometheusRule.enabled=true', 'metrics.grafanaDashboard.enabled=true'];
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'hsm-chart-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('renders nothing, and says so in the notes, when the chart has no rules or dashboards', async () => {
    const chart = copy('bare', {});
    const ms = await helmTemplate({ chart, set: on });
    expect(kinds(ms)).not.toContain('PrometheusRule');
    expect(ms.filter((m) => m.kind === 'ConfigMap')).toEqual([]);
    const notes = await helmNotes({ chart, set: on });
    expect(notes).toMatch(/ships no alert rules/);
    expect(notes).toMatch(/ships no dashboard/);
  });

  it('renders the PrometheusRule and the dashboard ConfigMap from files/', async () => {
    const rule = { alert: 'HsmNotReady', expr: 'hsm_operator_ready == 0', for: '15m', annotations: { summary: '{{ $labels.name }} is not ready' } };
    const chart = copy('full', {
      'prometheus-rules.yaml': `groups:\n  - name: hsm-operator\n    rules:\n      - alert: HsmNotReady\n        expr: hsm_operator_ready == 0\n        for: 15m\n        annotations:\n          summary: '{{ $labels.name }} is not ready'\n`,
      'grafana-dashboard.json': '{"title": "HSM operator", "panels": []}\n',
    });
    const ms = await helmTemplate({ chart, set: [...on, 'metrics.grafanaDashboard.namespace=monitoring'] });
    const pr = find(ms, 'PrometheusRule') as Manifest & { spec: { groups: { name: string; rules: unknown[] }[] } };
    expect(pr.spec.groups).toEqual([{ name: 'hsm-operator', rules: [rule] }]);
    const cm = find(ms, 'ConfigMap') as Manifest & { data: Record<string, string> };
    expect(cm.metadata.namespace).toBe('monitoring');
    expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
    expect(JSON.parse(cm.data['grafana-dashboard.json'] ?? '')).toEqual({ title: 'HSM operator', panels: [] });
    // A whole PrometheusRule object in the file works too.
    const chart2 = copy('object', { 'alert-rules.yaml': `apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nspec:\n  groups:\n    - name: g\n      rules: []\n` });
    expect((find(await helmTemplate({ chart: chart2, set: on }), 'PrometheusRule') as Manifest & { spec: unknown }).spec).toEqual({ groups: [{ name: 'g', rules: [] }] });
  });

  it('renders the alert rules and the dashboard this chart ships', async () => {
    const ms = await helmTemplate({ set: on });
    const shipped = parse(readFileSync(join(chartDir, 'files/prometheus-rules.yaml'), 'utf8')) as { groups: unknown[] };
    expect((find(ms, 'PrometheusRule') as Manifest & { spec: { groups: unknown[] } }).spec.groups).toEqual(shipped.groups);
    const cm = find(ms, 'ConfigMap') as Manifest & { data: Record<string, string> };
    expect(JSON.parse(cm.data['grafana-dashboard.json'] ?? '')).toEqual(JSON.parse(readFileSync(join(chartDir, 'files/grafana-dashboard.json'), 'utf8')));
  });

  it('points to the Argo CD health checks when asked for', async () => {
    const notes = await helmNotes({ set: ['argocd.healthCheckHint=true'] });
    expect(notes).toContain('resource.customizations.health.dedicatedhsm.io_DedicatedHsm');
    expect(notes).toContain('files/argocd-health.yaml');
    expect(existsSync(join(chartDir, 'files/argocd-health.yaml'))).toBe(true);
    expect(await helmNotes()).not.toContain('resource.customizations');
  });
});

describe('the destructive-actions admission policy', () => {
  type Policy = Manifest & { spec: { failurePolicy: string; variables: { name: string; expression: string }[]; validations: unknown[] } };
  type PolicyBinding = Manifest & { spec: { policyName: string; validationActions: string[] } };

  it('is on by default: the policy of src/destructive-actions.ts with the default group, bound with Deny', async () => {
    const ms = await helmTemplate();
    const policy = find(ms, 'ValidatingAdmissionPolicy', 'hsm-operator-destructive-actions') as Policy;
    expect(policy.spec.failurePolicy).toBe('Fail');
    expect(policy.spec.variables).toEqual(policyVariables({ group: JSON.stringify(DESTRUCTIVE_DEFAULTS.group), twoPersonRule: 'false' }));
    expect(policy.spec.validations).toEqual(POLICY_VALIDATIONS.map(({ expression, messageExpression, reason }) => ({ expression, messageExpression, reason })));
    expect(policy.metadata.labels).toMatchObject({ 'app.kubernetes.io/component': 'admission', 'app.kubernetes.io/part-of': 'hsm-operator' });
    expect(policy.metadata.namespace).toBeUndefined();
    const binding = find(ms, 'ValidatingAdmissionPolicyBinding') as PolicyBinding;
    expect(binding.spec).toEqual({ policyName: 'hsm-operator-destructive-actions', validationActions: ['Deny'] });
  });

  it('takes the group (quoted as a CEL string, whatever it holds) and the two-person switch from the values', async () => {
    const odd = 'odd "group" \\ name';
    const ms = await helmTemplate({ values: `destructiveActions:\n  group: ${JSON.stringify(odd)}\n  twoPersonRule: true\n` });
    const vars = (find(ms, 'ValidatingAdmissionPolicy') as Policy).spec.variables;
    expect(vars[0]).toEqual({ name: 'group', expression: JSON.stringify(odd) });
    expect(vars[1]).toEqual({ name: 'twoPersonRule', expression: 'true' });
  });

  it('can be turned off; refuses an empty group and a two-person switch that is not a boolean', async () => {
    expect(kinds(await helmTemplate({ set: ['destructiveActions.enabled=false'] })).filter((k) => k.startsWith('ValidatingAdmission'))).toEqual([]);
    await expect(helmTemplate({ set: ['destructiveActions.group='] })).rejects.toThrow(/destructiveActions.group/);
    await expect(helmTemplate({ set: ['destructiveActions.twoPersonRule=yes'] })).rejects.toThrow(/twoPersonRule/);
  });
});

describe('kustomize config', () => {
  let kust: Manifest[];
  let chart: Manifest[];
  beforeAll(async () => {
    kust = await kustomizeBuild('config/default');
    chart = await helmTemplate({ includeCrds: true });
  });

  it('renders the namespace hsm-operator-system and puts every namespaced object in it', () => {
    expect(find(kust, 'Namespace').metadata.name).toBe('hsm-operator-system');
    const clusterScoped = new Set(['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);
    for (const m of kust.filter((x) => !clusterScoped.has(x.kind))) expect(m.metadata.namespace, `${m.kind}/${m.metadata.name}`).toBe('hsm-operator-system');
    for (const b of kust.filter((m) => m.kind.endsWith('RoleBinding')) as (Manifest & { subjects: { namespace: string }[] })[]) {
      expect(b.subjects[0]?.namespace).toBe('hsm-operator-system');
    }
  });

  it('renders the same objects as the chart for release hsm-operator', () => {
    const ids = (ms: Manifest[]) => ms.filter((m) => m.kind !== 'Namespace').map((m) => `${m.kind}/${m.metadata.name}`).sort();
    expect(ids(kust)).toEqual(ids(chart));
  });

  it('grants exactly the rules of src/rbac.ts, with the same roles and bindings as the chart', () => {
    expect((find(kust, 'ClusterRole', 'hsm-operator-manager') as Role).rules).toEqual(clusterRules());
    expect((find(kust, 'Role') as Role).rules).toEqual(namespaceRules());
    const rbac = (ms: Manifest[]) =>
      ms
        .filter((m) => m.kind.includes('Role'))
        .map((m) => ({
          kind: m.kind,
          name: m.metadata.name,
          aggregation: Object.entries(m.metadata.labels ?? {}).filter(([k]) => k.startsWith('rbac.authorization.k8s.io/')),
          rules: (m as Role).rules,
          roleRef: (m as Binding).roleRef,
          subjects: (m as Binding).subjects,
        }))
        .sort((a, b) => `${a.kind}/${a.name}`.localeCompare(`${b.kind}/${b.name}`));
    expect(rbac(kust)).toEqual(rbac(chart));
  });

  it('config/prometheus adds the same ServiceMonitor as the chart', async () => {
    const withMonitor = await kustomizeOverlay({ resources: ['config/default'], components: ['config/prometheus'] });
    const fromChart = find(await helmTemplate({ set: ['metrics.serviceMonitor.enabled=true'] }), 'ServiceMonitor') as ServiceMonitor;
    const sm = find(withMonitor, 'ServiceMonitor') as ServiceMonitor;
    expect(sm.metadata.namespace).toBe('hsm-operator-system');
    expect(sm.spec).toEqual(fromChart.spec);
    // It selects the metrics Service kustomize renders.
    expect(find(withMonitor, 'Service').metadata.labels).toMatchObject(sm.spec.selector.matchLabels);
  });

  it('runs the same pod as the chart', () => {
    const strip = (d: Deployment) => ({ replicas: d.spec.replicas, selector: d.spec.selector, labels: d.spec.template.metadata.labels, spec: d.spec.template.spec });
    const k = strip(deployment(kust));
    const c = strip(deployment(chart));
    expect(k.spec.containers[0]?.image).toBe('hsm-operator:0.1.0');
    expect({ ...k, spec: { ...k.spec, containers: k.spec.containers.map((x) => ({ ...x, image: '' })) } }).toEqual({
      ...c,
      spec: { ...c.spec, containers: c.spec.containers.map((x) => ({ ...x, image: '' })) },
    });
  });

  it('ships the same destructive-actions policy as the chart, cluster-scoped (no namespace)', () => {
    const vap = (ms: Manifest[]) =>
      ms.filter((m) => m.kind.startsWith('ValidatingAdmissionPolicy')).map((m) => ({ kind: m.kind, name: m.metadata.name, namespace: m.metadata.namespace, spec: m.spec }));
    expect(vap(kust)).toHaveLength(2);
    expect(vap(kust)).toEqual(vap(chart));
  });

  it('ships the same CRDs as the chart', () => {
    const crds = (ms: Manifest[]) => ms.filter((m) => m.kind === 'CustomResourceDefinition').sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    expect(crds(kust).map((c) => ({ ...c, metadata: { ...c.metadata, labels: undefined } }))).toEqual(crds(chart).map((c) => ({ ...c, metadata: { ...c.metadata, labels: undefined } })));
  });
});

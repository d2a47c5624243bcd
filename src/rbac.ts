/**
 * The Kubernetes permissions of the operator and around it, declared once: the operator's own (PERMISSIONS),
 * what a metrics scraper needs (METRICS_READER_RULES) and the ClusterRoles for people who write the resources,
 * aggregated into the built-in admin/edit/view roles (USER_ROLES). The Helm chart's and kustomize's RBAC are
 * generated from them (`npm run generate:rbac`), tests prove each entry is needed and none is missing, and
 * docs/install.md explains them. Add a permission here, never in YAML.
 *
 * Run directly (`tsx src/rbac.ts`) it rewrites the generated packaging files: the chart's rule templates,
 * config/rbac's roles and the CRD copies in the chart and in config/crd (Helm and kustomize cannot reference the
 * generated crds/ folder itself).
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { GROUP } from './api/group.js';

export type RbacVerb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

/**
 * Where a permission applies: the namespaces the operator reconciles (ClusterRole, bound cluster-wide or per
 * watched namespace), only the namespaces it serves when they are listed (`served-namespaces`: a Role in each
 * namespace of watchNamespaces, and nowhere when the operator serves all namespaces), only the namespace it runs in
 * (Role), cluster-wide for secure metrics (a ClusterRole always bound with a ClusterRoleBinding, present only when
 * metrics are secure: reviews are cluster-scoped), or cluster-scoped resources the operator reads (a ClusterRole
 * always bound with a ClusterRoleBinding, also with watchNamespaces: namespaces are not in a namespace).
 */
export type RbacScope = 'cluster' | 'served-namespaces' | 'operator-namespace' | 'metrics-auth' | 'cluster-scoped';

export interface Permission {
  apiGroup: string;
  resources: readonly string[];
  verbs: readonly RbacVerb[];
  scope: RbacScope;
  /** Why the operator needs it: rendered as a comment next to the rule and listed in docs/install.md. */
  why: string;
}

/** A Kubernetes RBAC PolicyRule, as it appears in a Role or ClusterRole. */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** Plurals of the operator's own kinds (a unit test keeps them equal to the generated CRDs). */
export const OWN_RESOURCES = ['dedicatedhsms', 'ntlsclientbindings', 'hsmhagroups'] as const;

const own = (sub?: string): string[] => OWN_RESOURCES.map((r) => (sub ? `${r}/${sub}` : r));

export const PERMISSIONS: readonly Permission[] = [
  {
    apiGroup: GROUP,
    resources: own(),
    verbs: ['get', 'list', 'watch', 'update', 'patch'],
    scope: 'cluster',
    why: 'watch the custom resources; add and remove the finalizer, persist the ARM poller token, clear trigger annotations',
  },
  {
    apiGroup: GROUP,
    resources: own('status'),
    verbs: ['get', 'update', 'patch'],
    scope: 'cluster',
    why: 'report observedGeneration, conditions and facts in status',
  },
  {
    apiGroup: GROUP,
    resources: own('finalizers'),
    verbs: ['update'],
    scope: 'cluster',
    why: 'own output Secrets with blockOwnerDeletion (required where OwnerReferencesPermissionEnforcement is enabled)',
  },
  {
    apiGroup: '',
    resources: ['secrets'],
    verbs: ['get'],
    scope: 'cluster',
    why: 'read, by name, the appliance, Azure and HA group credentials, client certificates and output Secrets the resources name',
  },
  {
    apiGroup: '',
    resources: ['secrets'],
    verbs: ['list', 'watch'],
    scope: 'served-namespaces',
    why: 'with watchNamespaces set: watch the Secrets of each served namespace, so a change is seen at once (never cluster-wide: serving all namespaces, Secrets are read by name only)',
  },
  {
    apiGroup: '',
    resources: ['secrets'],
    verbs: ['create', 'update', 'patch'],
    scope: 'cluster',
    why: 'write NTLS output Secrets (server.pem, Chrystoki.conf) and generated client certificates',
  },
  {
    apiGroup: 'events.k8s.io',
    resources: ['events'],
    verbs: ['create', 'patch'],
    scope: 'cluster',
    why: 'record Events on the resources (a repeated Event is patched into a series, not duplicated)',
  },
  {
    apiGroup: 'coordination.k8s.io',
    resources: ['leases'],
    verbs: ['get', 'create', 'update'],
    scope: 'operator-namespace',
    why: 'leader election: one replica reconciles, the others stand by',
  },
  {
    apiGroup: GROUP,
    resources: ['hsmgrants'],
    verbs: ['get', 'list', 'watch'],
    scope: 'cluster',
    why: 'read the HsmGrants that admit NtlsClientBindings and HsmHaGroups of other namespaces to a namespace\'s DedicatedHsms (never written)',
  },
  {
    apiGroup: '',
    resources: ['namespaces'],
    verbs: ['get', 'list', 'watch'],
    scope: 'cluster-scoped',
    why: 'read namespace labels, which an HsmGrant\'s namespaceSelector matches (metadata only is used)',
  },
  {
    apiGroup: 'authentication.k8s.io',
    resources: ['tokenreviews'],
    verbs: ['create'],
    scope: 'metrics-auth',
    why: 'secure metrics: ask the API server whom a scraper\'s bearer token belongs to (TokenReview)',
  },
  {
    apiGroup: 'authorization.k8s.io',
    resources: ['subjectaccessreviews'],
    verbs: ['create'],
    scope: 'metrics-auth',
    why: 'secure metrics: ask the API server whether that identity may GET /metrics (SubjectAccessReview)',
  },
];

/** A rule on URLs that are not resources (e.g. /metrics), as in a ClusterRole. */
export interface NonResourceRule {
  nonResourceURLs: string[];
  verbs: string[];
}

/** What a Prometheus (or any scraper) must be granted to read the operator's secure metrics endpoint. */
export const METRICS_READER_RULES: readonly (NonResourceRule & { why: string })[] = [
  { nonResourceURLs: ['/metrics'], verbs: ['get'], why: 'scrape the operator\'s metrics endpoint when it is secure (--metrics-secure)' },
];

/** A rule of a role for people, with its reason. */
export interface UserRule {
  apiGroup: string;
  resources: readonly string[];
  verbs: readonly ('get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete')[];
  why: string;
}

/** A ClusterRole for the people who write the resources, aggregated into built-in roles by label. */
export interface UserRole {
  /** Suffix of the ClusterRole's name: `<release>-<suffix>`. */
  suffix: 'edit' | 'view';
  /** Built-in roles it is aggregated into (labels `rbac.authorization.k8s.io/aggregate-to-<role>: "true"`). */
  aggregateTo: readonly ('admin' | 'edit' | 'view')[];
  rules: readonly UserRule[];
}

const READ = ['get', 'list', 'watch'] as const;

export const USER_ROLES: readonly UserRole[] = [
  {
    suffix: 'edit',
    aggregateTo: ['admin', 'edit'],
    rules: [
      {
        apiGroup: GROUP,
        resources: [...OWN_RESOURCES],
        verbs: [...READ, 'create', 'update', 'patch', 'delete'],
        why: 'declare, change and remove HSMs, NTLS client bindings and HA groups (namespace admins and editors)',
      },
      { apiGroup: GROUP, resources: OWN_RESOURCES.map((r) => `${r}/status`), verbs: ['get'], why: 'read what the operator reports; status is written only by the operator' },
      {
        apiGroup: GROUP,
        resources: ['hsmgrants'],
        verbs: [...READ, 'create', 'update', 'patch', 'delete'],
        why: 'lend this namespace\'s DedicatedHsms to other namespaces (a grant in a namespace reaches only that namespace\'s HSMs)',
      },
    ],
  },
  {
    suffix: 'view',
    aggregateTo: ['view'],
    rules: [
      { apiGroup: GROUP, resources: [...OWN_RESOURCES, 'hsmgrants'], verbs: [...READ], why: 'see HSMs, NTLS client bindings, HA groups and grants (namespace viewers)' },
      { apiGroup: GROUP, resources: OWN_RESOURCES.map((r) => `${r}/status`), verbs: ['get'], why: 'read what the operator reports' },
    ],
  },
];

/** The label that aggregates a ClusterRole into the built-in `role`. */
export const aggregationLabel = (role: 'admin' | 'edit' | 'view'): string => `rbac.authorization.k8s.io/aggregate-to-${role}`;

/** Rules of a role for people, as PolicyRules. */
export function userRules(role: UserRole): PolicyRule[] {
  return role.rules.map((r) => ({ apiGroups: [r.apiGroup], resources: [...r.resources], verbs: [...r.verbs] }));
}

/** Rules of the metrics-reader ClusterRole. */
export function metricsReaderRules(): NonResourceRule[] {
  return METRICS_READER_RULES.map((r) => ({ nonResourceURLs: [...r.nonResourceURLs], verbs: [...r.verbs] }));
}

const toRule = (p: Permission): PolicyRule => ({ apiGroups: [p.apiGroup], resources: [...p.resources], verbs: [...p.verbs] });

/** Rules of the ClusterRole (bound cluster-wide to the operator's ServiceAccount). */
export function clusterRules(permissions: readonly Permission[] = PERMISSIONS): PolicyRule[] {
  return permissions.filter((p) => p.scope === 'cluster').map(toRule);
}

/** Rules of the Role in each namespace of watchNamespaces (none when the operator serves all namespaces). */
export function servedNamespaceRules(permissions: readonly Permission[] = PERMISSIONS): PolicyRule[] {
  return permissions.filter((p) => p.scope === 'served-namespaces').map(toRule);
}

/** Rules of the Role in the operator's own namespace. */
export function namespaceRules(permissions: readonly Permission[] = PERMISSIONS): PolicyRule[] {
  return permissions.filter((p) => p.scope === 'operator-namespace').map(toRule);
}

/** Rules of the ClusterRole for cluster-scoped reads (always bound cluster-wide). */
export function clusterScopedRules(permissions: readonly Permission[] = PERMISSIONS): PolicyRule[] {
  return permissions.filter((p) => p.scope === 'cluster-scoped').map(toRule);
}

/** Rules of the ClusterRole for secure metrics (bound cluster-wide, only when metrics are secure). */
export function metricsAuthRules(permissions: readonly Permission[] = PERMISSIONS): PolicyRule[] {
  return permissions.filter((p) => p.scope === 'metrics-auth').map(toRule);
}

/** Every (apiGroup, resource, verb) the operator holds, e.g. for access reviews. */
export function grants(permissions: readonly Permission[] = PERMISSIONS): { apiGroup: string; resource: string; verb: RbacVerb; scope: RbacScope }[] {
  return permissions.flatMap((p) => p.resources.flatMap((resource) => p.verbs.map((verb) => ({ apiGroup: p.apiGroup, resource, verb, scope: p.scope }))));
}

// ---- generated files ----------------------------------------------------------------------------------------

const HEADER = '# Generated by `npm run generate:rbac` from src/rbac.ts. Do not edit: change src/rbac.ts and regenerate.\n';

/** YAML of a rule list with each rule's reason as a comment, indented by `indent` spaces. */
export function rulesYaml(permissions: readonly Permission[], indent = 0): string {
  const pad = ' '.repeat(indent);
  return permissions
    .map((p) => {
      const body = stringify([toRule(p)], { flowCollectionPadding: false, collectionStyle: 'block' }).trimEnd();
      return `${pad}# ${p.why}\n${body.split('\n').map((l) => pad + l).join('\n')}`;
    })
    .join('\n');
}

const of = (scope: RbacScope) => PERMISSIONS.filter((p) => p.scope === scope);

/** YAML of rules that are not Permissions (metrics reader, roles for people), each with its reason. */
function otherRulesYaml(rules: readonly ((PolicyRule | NonResourceRule) & { why: string })[]): string {
  return rules
    .map(({ why, ...rule }) => `# ${why}\n${stringify([rule], { flowCollectionPadding: false, collectionStyle: 'block' }).trimEnd()}`)
    .join('\n');
}

const userRulesYaml = (role: UserRole) => otherRulesYaml(role.rules.map((r) => ({ apiGroups: [r.apiGroup], resources: [...r.resources], verbs: [...r.verbs], why: r.why })));
const readerRulesYaml = () => otherRulesYaml(METRICS_READER_RULES.map((r) => ({ nonResourceURLs: [...r.nonResourceURLs], verbs: [...r.verbs], why: r.why })));

/** charts/hsm-operator/templates/_rbac.tpl: named templates the chart's roles include. */
export function chartRulesTemplate(): string {
  const define = (name: string, body: string) => `{{- define "hsm-operator.${name}" }}\n${body}\n{{- end }}\n`;
  const labels = (role: UserRole) => role.aggregateTo.map((r) => `${aggregationLabel(r)}: "true"`).join('\n');
  return [
    `{{- /*\n${HEADER.slice(2).trimEnd()}\n*/ -}}\n`,
    define('clusterRules', rulesYaml(of('cluster'))),
    define('servedNamespaceRules', rulesYaml(of('served-namespaces'))),
    define('namespaceRules', rulesYaml(of('operator-namespace'))),
    define('metricsAuthRules', rulesYaml(of('metrics-auth'))),
    define('clusterScopedRules', rulesYaml(of('cluster-scoped'))),
    define('metricsReaderRules', readerRulesYaml()),
    ...USER_ROLES.flatMap((role) => [define(`${role.suffix}Rules`, userRulesYaml(role)), define(`${role.suffix}AggregationLabels`, labels(role))]),
  ].join('\n');
}

/** A generated kustomize ClusterRole or Role, named as the chart names it for release `hsm-operator`. */
function kustomizeRole(kind: 'ClusterRole' | 'Role', name: string, rules: string, extraLabels: string[] = []): string {
  const labels = ['app.kubernetes.io/name: hsm-operator', 'app.kubernetes.io/component: rbac', ...extraLabels].map((l) => `    ${l}`).join('\n');
  return `${HEADER}apiVersion: rbac.authorization.k8s.io/v1\nkind: ${kind}\nmetadata:\n  name: ${name}\n  labels:\n${labels}\nrules:\n${rules}\n`;
}

/** config/rbac/role.yaml: the manager ClusterRole. */
export function kustomizeClusterRole(): string {
  return kustomizeRole('ClusterRole', 'hsm-operator-manager', rulesYaml(of('cluster')));
}

/** config/rbac/leader_election_role.yaml: the Role in the operator's namespace. */
export function kustomizeNamespaceRole(): string {
  return kustomizeRole('Role', 'hsm-operator-leader-election', rulesYaml(of('operator-namespace')));
}

/** config/crd/kustomization.yaml for the CRD copies in config/crd/bases. */
export function crdKustomization(files: readonly string[]): string {
  const list = files.length ? `\n${files.map((f) => `  - bases/${f}`).join('\n')}` : ' []';
  return `${HEADER}apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:${list}\n`;
}

/** Paths (relative to the repository root) of every file this module generates, with their content. */
export function generatedFiles(crdFiles: readonly string[]): Map<string, string> {
  return new Map([
    ['charts/hsm-operator/templates/_rbac.tpl', chartRulesTemplate()],
    ['config/rbac/role.yaml', kustomizeClusterRole()],
    ['config/rbac/leader_election_role.yaml', kustomizeNamespaceRole()],
    ['config/rbac/metrics_auth_role.yaml', kustomizeRole('ClusterRole', 'hsm-operator-metrics-auth', rulesYaml(of('metrics-auth')))],
    ['config/rbac/cluster_scoped_role.yaml', kustomizeRole('ClusterRole', 'hsm-operator-cluster-scoped', rulesYaml(of('cluster-scoped')))],
    ['config/rbac/metrics_reader_role.yaml', kustomizeRole('ClusterRole', 'hsm-operator-metrics-reader', readerRulesYaml())],
    ...USER_ROLES.map((role): [string, string] => [
      `config/rbac/${role.suffix}_role.yaml`,
      kustomizeRole('ClusterRole', `hsm-operator-${role.suffix}`, userRulesYaml(role), role.aggregateTo.map((r) => `${aggregationLabel(r)}: "true"`)),
    ]),
    ['config/crd/kustomization.yaml', crdKustomization(crdFiles)],
  ]);
}

/** Folders that hold verbatim copies of the generated crds/ folder. */
export const CRD_COPIES = ['charts/hsm-operator/crds', 'config/crd/bases'] as const;

export const listCrdFiles = (dir: string): string[] =>
  existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort() : [];

function writeAll(root: string): void {
  const crds = listCrdFiles(join(root, 'crds'));
  for (const [path, text] of generatedFiles(crds)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  for (const copy of CRD_COPIES) {
    const dir = join(root, copy);
    mkdirSync(dir, { recursive: true });
    for (const f of listCrdFiles(dir)) if (!crds.includes(f)) rmSync(join(dir, f));
    for (const f of crds) copyFileSync(join(root, 'crds', f), join(dir, f));
  }
  process.stdout.write(`rbac: wrote ${generatedFiles(crds).size} files; ${crds.length} CRDs copied to ${CRD_COPIES.join(', ')}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeAll(resolve(dirname(fileURLToPath(import.meta.url)), '..'));
}

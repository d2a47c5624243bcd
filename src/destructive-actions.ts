/**
 * The destructive-actions admission policy, declared once: a ValidatingAdmissionPolicy (+ binding) that makes the
 * second key for zeroize and delete a permission, not only a field. On DedicatedHsm and NtlsClientBinding it admits
 * setting `spec.deletionPolicy: Delete` only from members of one group; on DedicatedHsm it also admits the second
 * key (dedicatedhsm.io/confirm-zeroize) and the acceptance of key-material loss only from that group, records who
 * asked for Delete (dedicatedhsm.io/deletion-requested-by must name the requesting user, and stays while Delete
 * stays) and, under the optional two-person rule, admits the confirmation only from another user than the one who
 * asked.
 *
 * The chart's template and kustomize's component are generated from here (`npm run generate:policy`), so they
 * cannot disagree; only the group and the two-person switch differ (chart values, or a kustomize patch of the two
 * first `variables`). Tests run the policy on the real API server (test/integration/api/destructive-actions.test.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { Annotations } from './api/annotations.js';
import { GROUP } from './api/group.js';

/** What the kustomize component ships; the chart's values default to the same. */
export const DESTRUCTIVE_DEFAULTS = { group: 'hsm-destructive-actions', twoPersonRule: false } as const;

/** Name of the policy and of its binding (the chart prefixes its full name: `<fullname>-destructive-actions`). */
export const POLICY_SUFFIX = 'destructive-actions';

/** Resources the policy watches, and the operations (DELETE of the object is not a destructive act by itself). */
export const POLICY_RESOURCES = ['dedicatedhsms', 'ntlsclientbindings'] as const;

/** A CEL variable of the policy. */
export interface PolicyVariable {
  name: string;
  expression: string;
}

/** A CEL validation of the policy: the rule, and the message a refused user reads. */
export interface PolicyValidation {
  expression: string;
  messageExpression: string;
  reason: 'Forbidden' | 'Invalid';
  /** Why the rule exists, rendered as a comment. */
  why: string;
}

/** A CEL string literal. */
const str = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The value of annotation `key` on `obj` (object or oldObject, which is null on CREATE), '' when absent. */
function annotation(obj: 'object' | 'oldObject', key: string): string {
  return `${obj} != null && has(${obj}.metadata.annotations) && ${str(key)} in ${obj}.metadata.annotations ? ${obj}.metadata.annotations[${str(key)}] : ''`;
}

const CONFIRM = Annotations.confirmZeroize;
const REQUESTED_BY = Annotations.deletionRequestedBy;
const ACCEPT = Annotations.acceptKeyMaterialLoss;

/**
 * The variables, in order (later ones use earlier ones). The first two are the configuration: CEL literals the
 * chart and kustomize fill in (`group` a string, `twoPersonRule` a bool).
 */
export function policyVariables(config: { group: string; twoPersonRule: string }): PolicyVariable[] {
  return [
    { name: 'group', expression: config.group },
    { name: 'twoPersonRule', expression: config.twoPersonRule },
    { name: 'user', expression: 'request.userInfo.username' },
    { name: 'inGroup', expression: 'has(request.userInfo.groups) && variables.group in request.userInfo.groups' },
    { name: 'isHsm', expression: "request.resource.resource == 'dedicatedhsms'" },
    { name: 'policy', expression: "has(object.spec.deletionPolicy) ? object.spec.deletionPolicy : 'Orphan'" },
    { name: 'oldPolicy', expression: "oldObject != null && has(oldObject.spec.deletionPolicy) ? oldObject.spec.deletionPolicy : 'Orphan'" },
    { name: 'settingDelete', expression: "variables.policy == 'Delete' && variables.oldPolicy != 'Delete'" },
    { name: 'requester', expression: annotation('object', REQUESTED_BY) },
    { name: 'oldRequester', expression: annotation('oldObject', REQUESTED_BY) },
    { name: 'confirm', expression: annotation('object', CONFIRM) },
    { name: 'oldConfirm', expression: annotation('oldObject', CONFIRM) },
    { name: 'accept', expression: annotation('object', ACCEPT) },
    { name: 'oldAccept', expression: annotation('oldObject', ACCEPT) },
    { name: 'confirmSet', expression: "variables.confirm != '' && variables.confirm != variables.oldConfirm" },
    { name: 'acceptSet', expression: "variables.accept != '' && variables.accept != variables.oldAccept" },
  ];
}

const notMember = `' (the destructive-actions permission of hsm-operator); ' + variables.user + ' is not a member. Ask a member of that group to do it.'`;

/** Second-key annotations and what each one does, for the messages. */
const SECOND_KEYS = [
  { variable: 'confirmSet', name: CONFIRM, does: 'the second key: with deletionPolicy Delete the operator zeroizes the HSM' },
  { variable: 'acceptSet', name: ACCEPT, does: 'it accepts losing the last live copy of the key material of an HA group' },
] as const;

export const POLICY_VALIDATIONS: readonly PolicyValidation[] = [
  {
    why: 'Delete lets the operator delete what it manages outside Kubernetes (the Azure HSM, or the clients on the appliance)',
    expression: '!variables.settingDelete || variables.inGroup',
    messageExpression: `'spec.deletionPolicy: Delete may only be set by a member of the group ' + variables.group + ${notMember}`,
    reason: 'Forbidden',
  },
  {
    why: 'the operator and the two-person rule know who asked for Delete from this annotation, so it must be true',
    expression: '!variables.isHsm || !variables.settingDelete || variables.requester == variables.user',
    messageExpression: `'setting spec.deletionPolicy: Delete on a DedicatedHsm must also set the annotation ${REQUESTED_BY} to your own user name, "' + variables.user + '": it records who asked for the deletion.'`,
    reason: 'Invalid',
  },
  {
    why: 'who asked stays recorded while Delete stays: nobody can rewrite it to pass the two-person rule alone',
    expression: "!variables.isHsm || variables.oldPolicy != 'Delete' || variables.policy != 'Delete' || variables.requester == variables.oldRequester",
    messageExpression: `'the annotation ${REQUESTED_BY} records who set deletionPolicy Delete ("' + variables.oldRequester + '") and cannot change while Delete stays. To ask again, set spec.deletionPolicy to Orphan, then back to Delete with ${REQUESTED_BY} naming yourself.'`,
    reason: 'Forbidden',
  },
  ...SECOND_KEYS.map(
    (k): PolicyValidation => ({
      why: `${k.name} is ${k.does}`,
      expression: `!variables.isHsm || !variables.${k.variable} || variables.inGroup`,
      messageExpression: `'the annotation ${k.name} (${k.does}) may only be set by a member of the group ' + variables.group + ${notMember}`,
      reason: 'Forbidden',
    }),
  ),
  ...SECOND_KEYS.map(
    (k): PolicyValidation => ({
      why: `two-person rule: ${k.name} comes from another user than the one who set Delete, after Delete is set`,
      expression: `!variables.isHsm || !variables.twoPersonRule || !variables.${k.variable} || (variables.policy == 'Delete' && variables.requester != '' && variables.requester != variables.user)`,
      messageExpression:
        `'two-person rule: the annotation ${k.name} must be set by a second member of ' + variables.group + ', after another user set spec.deletionPolicy: Delete' + ` +
        `(variables.policy != 'Delete' || variables.requester == '' ? '; set deletionPolicy Delete first (with ${REQUESTED_BY}), then let another member confirm.' : ` +
        `'; Delete was asked for by ' + variables.requester + ', who may not confirm their own request.')`,
      reason: 'Forbidden',
    }),
  ),
  {
    why: 'two-person rule: a confirmation already on the object would otherwise come from the same user who sets Delete now',
    expression: "!variables.isHsm || !variables.twoPersonRule || !variables.settingDelete || (variables.confirm == '' && variables.accept == '')",
    messageExpression: `'two-person rule: spec.deletionPolicy: Delete cannot be set while ${CONFIRM} or ${ACCEPT} is on the object; remove them, set Delete, and let a second member of ' + variables.group + ' confirm.'`,
    reason: 'Forbidden',
  },
];

/** Placeholders for the configuration in the rendered YAML: each is replaced by a CEL literal or a Helm expression. */
const GROUP_SLOT = '__DESTRUCTIVE_ACTIONS_GROUP__';
const TWO_PERSON_SLOT = '__DESTRUCTIVE_ACTIONS_TWO_PERSON_RULE__';

/** The ValidatingAdmissionPolicy, its binding, as objects (configuration in placeholders). */
export function policyObjects(name: string, labels: Record<string, string>): [Record<string, unknown>, Record<string, unknown>] {
  const policy = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name, labels },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [{ apiGroups: [GROUP], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: [...POLICY_RESOURCES] }],
      },
      variables: policyVariables({ group: GROUP_SLOT, twoPersonRule: TWO_PERSON_SLOT }),
      validations: POLICY_VALIDATIONS.map((v) => ({ expression: v.expression, messageExpression: v.messageExpression, reason: v.reason })),
    },
  };
  const binding = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name, labels },
    spec: { policyName: name, validationActions: ['Deny'] },
  };
  return [policy, binding];
}

/** The policy as a CEL string literal of the group and a CEL bool (what kustomize ships, and what tests install). */
export function policyYaml(config: { group: string; twoPersonRule: boolean }, name = `hsm-operator-${POLICY_SUFFIX}`, labels: Record<string, string> = KUSTOMIZE_LABELS): string {
  return render(name, labels)
    .replace(GROUP_SLOT, yamlString(JSON.stringify(config.group)))
    .replace(TWO_PERSON_SLOT, yamlString(String(config.twoPersonRule)));
}

const KUSTOMIZE_LABELS = { 'app.kubernetes.io/name': 'hsm-operator', 'app.kubernetes.io/component': 'admission' };

/** A YAML double-quoted scalar (JSON strings are valid YAML). */
const yamlString = (s: string): string => JSON.stringify(s);

function render(name: string, labels: Record<string, string>): string {
  const [policy, binding] = policyObjects(name, labels);
  const doc = (o: Record<string, unknown>) => stringify(o, { lineWidth: 0, singleQuote: true }).trimEnd();
  return `${doc(policy)}\n---\n${doc(binding)}\n`;
}

// ---- generated files ----------------------------------------------------------------------------------------

const HEADER = 'Generated by `npm run generate:policy` from src/destructive-actions.ts. Do not edit: change that file and regenerate.';

/** charts/hsm-operator/templates/destructive-actions.yaml. */
export function chartTemplate(): string {
  const NAME = '__NAME__';
  const body = render(NAME, { __LABELS__: '' })
    .replaceAll(`name: ${NAME}`, `name: {{ include "hsm-operator.fullname" . }}-${POLICY_SUFFIX}`)
    .replaceAll(`policyName: ${NAME}`, `policyName: {{ include "hsm-operator.fullname" . }}-${POLICY_SUFFIX}`)
    .replaceAll("    __LABELS__: ''", '    {{- include "hsm-operator.labels" . | nindent 4 }}\n    app.kubernetes.io/component: admission')
    .replace(GROUP_SLOT, '{{ $group | toJson | toJson }}')
    .replace(TWO_PERSON_SLOT, '{{ .Values.destructiveActions.twoPersonRule | toJson | quote }}');
  return (
    `{{- /*\n${HEADER}\n` +
    'The second key for zeroize and delete is a permission: see docs/security.md (Destructive actions).\n*/ -}}\n' +
    '{{- if .Values.destructiveActions.enabled }}\n' +
    '{{- $group := required "destructiveActions.group must name the group whose members may set deletionPolicy Delete and confirm zeroization" .Values.destructiveActions.group }}\n' +
    `${body}{{- end }}\n`
  );
}

/** config/admission/: a kustomize Component with the policy and its binding. */
export function kustomizeFiles(): Map<string, string> {
  return new Map([
    [
      'config/admission/kustomization.yaml',
      `# ${HEADER}\n` +
        '# The destructive-actions admission policy (docs/security.md). config/default includes it; to change the group or\n' +
        '# turn on the two-person rule, patch the first two variables of the ValidatingAdmissionPolicy in your overlay.\n' +
        'apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - destructive_actions_policy.yaml\n',
    ],
    ['config/admission/destructive_actions_policy.yaml', `# ${HEADER}\n${policyYaml(DESTRUCTIVE_DEFAULTS)}`],
  ]);
}

/** Paths (relative to the repository root) of every file this module generates, with their content. */
export function generatedPolicyFiles(): Map<string, string> {
  return new Map([['charts/hsm-operator/templates/destructive-actions.yaml', chartTemplate()], ...kustomizeFiles()]);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  for (const [path, text] of generatedPolicyFiles()) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
    process.stdout.write(`wrote ${path}\n`);
  }
}

/**
 * src/destructive-actions.ts is the one declaration of the destructive-actions admission policy: the chart's template
 * and kustomize's component are generated from it and must be fresh; config/default includes the component; the
 * policy names the annotations src/api declares and watches both kinds that have a deletionPolicy. (The policy's
 * behaviour is tested on the real API server: test/integration/packaging/destructive-actions.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { Annotations } from '../../../src/api/annotations.js';
import { DESTRUCTIVE_DEFAULTS, POLICY_RESOURCES, POLICY_VALIDATIONS, generatedPolicyFiles, policyVariables, policyYaml } from '../../../src/destructive-actions.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const read = (p: string) => readFileSync(join(root, p), 'utf8');

describe('the destructive-actions policy declaration', () => {
  it('the generated chart template and kustomize component are fresh (run `npm run generate:policy`)', () => {
    const files = generatedPolicyFiles();
    expect([...files.keys()].sort()).toEqual(['charts/hsm-operator/templates/destructive-actions.yaml', 'config/admission/destructive_actions_policy.yaml', 'config/admission/kustomization.yaml']);
    for (const [path, text] of files) expect(read(path), `${path} is stale: run npm run generate:policy`).toBe(text);
  });

  it('config/default includes the component', () => {
    const k = parse(read('config/default/kustomization.yaml')) as { components?: string[] };
    expect(k.components).toContain('../admission');
  });

  it('kustomize ships the defaults the chart\'s values have', () => {
    const values = parse(read('charts/hsm-operator/values.yaml')) as { destructiveActions: { enabled: boolean; group: string; twoPersonRule: boolean } };
    expect(values.destructiveActions).toEqual({ enabled: true, ...DESTRUCTIVE_DEFAULTS });
    const [policy] = parseAllDocuments(policyYaml(DESTRUCTIVE_DEFAULTS)).map((d) => d.toJS() as { spec: { variables: unknown[] } });
    expect(policy?.spec.variables).toEqual(policyVariables({ group: '"hsm-destructive-actions"', twoPersonRule: 'false' }));
  });

  it('watches every kind with a deletionPolicy and reads the annotations src/api declares', () => {
    expect([...POLICY_RESOURCES]).toEqual(['dedicatedhsms', 'ntlsclientbindings']);
    const text = JSON.stringify([policyVariables({ group: '""', twoPersonRule: 'false' }), POLICY_VALIDATIONS]);
    for (const a of [Annotations.confirmZeroize, Annotations.deletionRequestedBy, Annotations.acceptKeyMaterialLoss]) expect(text).toContain(`'${a}'`);
    expect(text.match(/'dedicatedhsm\.io\/[a-z-]+'/g)?.every((m) => Object.values(Annotations).includes(m.slice(1, -1) as (typeof Annotations)[keyof typeof Annotations]))).toBe(true);
  });

  it('every refusal says who may do it or what is missing, and carries the why', () => {
    for (const v of POLICY_VALIDATIONS) {
      expect(v.why).not.toBe('');
      expect(v.messageExpression).toMatch(/variables\.group|variables\.user|dedicatedhsm\.io\//);
      // Static text sits inside CEL single-quoted strings: an apostrophe would end one (the API server would refuse the policy).
      expect(v.messageExpression.replace(/'[^']*'/g, '')).not.toMatch(/[A-Za-z]{3,} [A-Za-z]{3,}/);
    }
  });
});

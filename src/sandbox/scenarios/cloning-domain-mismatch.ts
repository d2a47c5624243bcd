/** The guide's "HA group doesn't sync": members in different cloning domains. */
import { find, hasCondition } from './checks.js';
import { conditionOf } from '../../cli/resources.js';
import type { Scenario } from './types.js';

const GROUP = 'payments-ha';
/** The partition the sample HA group spans on both HSMs (the platform team's own). */
const PARTITION = 'platform-par';

export const cloningDomainMismatch: Scenario = {
  name: 'cloning-domain-mismatch',
  title: 'HA members sit in different cloning domains; the operator reports it with the documented fix',
  guideSection: "HA Group Doesn't Sync",
  promise: `${GROUP} CloningDomainConsistent=False (CloningDomainMismatch) with the fix in its message`,
  world: (o) => ({
    ...o,
    hsms: (o.hsms ?? []).map((h, i) => (i === 1 ? { ...h, partitions: (h.partitions ?? []).map((p) => (p.label === PARTITION ? { ...p, cloningDomain: 'another-domain' } : p)) } : h)),
  }),
  async play(ctx) {
    ctx.say(`Partition ${PARTITION} of hsm-eastus-2 was initialised in another cloning domain than ${PARTITION} of hsm-eastus-1.`);
    const message = await ctx.waitFor(`${GROUP} to report CloningDomainMismatch`, (s) => {
      if (!hasCondition(s, 'HsmHaGroup', GROUP, 'CloningDomainConsistent', 'CloningDomainMismatch', 'False')) return undefined;
      const g = find(s, 'HsmHaGroup', GROUP);
      return g && conditionOf(g, 'CloningDomainConsistent')?.message;
    });
    ctx.say(`Detected: CloningDomainConsistent=False - ${message}`);
    ctx.say('What a human does (the guide): create a partition with the right cloning domain, add it to spec.members, then remove the wrong one.');
    return `${GROUP} reports CloningDomainMismatch and says how to fix it`;
  },
};

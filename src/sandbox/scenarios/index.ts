/** The scenarios `npm start -- --scenario <name>` can replay. */
import { cloningDomainMismatch } from './cloning-domain-mismatch.js';
import { defaultScenario } from './default.js';
import { gatewayRace } from './gateway-race.js';
import { haMemberDown } from './ha-member-down.js';
import { ntlsDrift } from './ntls-drift.js';
import { planScenario } from './plan.js';
import { quota } from './quota.js';
import type { Scenario } from './types.js';
import { wrongPassword } from './wrong-password.js';

export type { AppliedResource, Scenario, ScenarioContext, Snapshot } from './types.js';

export const SCENARIOS: readonly Scenario[] = [defaultScenario, gatewayRace, quota, ntlsDrift, haMemberDown, cloningDomainMismatch, wrongPassword, planScenario];

export function scenarioNamed(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}

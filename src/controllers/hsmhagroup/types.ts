/** The HsmHaGroup resource type and the controller's name (as the Secret cache and metrics know it). */
import { GROUP, HsmHaGroupKind, VERSION } from '../../api/index.js';
import type { ResourceType } from '../../runtime/index.js';

export const HsmHaGroupType: ResourceType = { group: GROUP, version: VERSION, plural: HsmHaGroupKind.plural, kind: HsmHaGroupKind.kind, namespaced: true };

export const CONTROLLER_NAME = 'HsmHaGroup';

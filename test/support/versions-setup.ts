/**
 * Vitest global setup for the versions tier: each project `versions-v1.NN` starts the control plane pinned in
 * test/controlplane/versions/v1.NN (built once, cached like the default one) and installs the CRDs there.
 */
import type { TestProject } from 'vitest/node';
import { versionModuleDir } from './controlplane.js';
import { provideControlPlane } from './global-setup.js';

export default function setup(project: TestProject): Promise<() => Promise<void>> {
  const name = /^versions-(v\d+\.\d+)$/.exec(project.name)?.[1];
  if (!name) throw new Error(`project ${project.name} does not name a pinned release (versions-v1.NN)`);
  return provideControlPlane(project, versionModuleDir(name));
}

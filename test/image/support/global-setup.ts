/**
 * Vitest global setup of the image tier: refuses to start (naming what is missing) without buildah, podman, runc and
 * debootstrap; otherwise makes the local Node base image (cached) and builds the operator's image from the
 * Dockerfile. The control plane comes from the integration tier's own global setup, listed beside this one.
 */
import type { TestProject } from 'vitest/node';
import { ensureNodeImage } from './base.js';
import { buildImage, imageSize } from './build.js';
import { reapOrphanContainers } from './pod.js';
import { prerequisiteProblem } from './prerequisites.js';

export interface ImageFacts {
  tag: string;
  nodeImage: string;
  sizeBytes: number;
  /** Base images (debootstrap, import, Node layer): 0 ms when cached. */
  baseMs: number;
  buildMs: number;
  cachedSteps: number;
  steps: number;
}

declare module 'vitest' {
  export interface ProvidedContext {
    image: ImageFacts;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const problem = prerequisiteProblem();
  if (problem) throw new Error(problem);
  const log = (line: string) => process.stderr.write(`[image] ${line}\n`);
  const reaped = await reapOrphanContainers();
  if (reaped.length) log(`removed containers a killed run left: ${reaped.join(', ')}`);
  const started = Date.now();
  const nodeImage = await ensureNodeImage(log);
  const baseMs = Date.now() - started;
  const built = await buildImage({ nodeImage, log });
  const sizeBytes = await imageSize(built.tag);
  log(`${built.tag}: ${(sizeBytes / 1e6).toFixed(1)} MB, built in ${(built.ms / 1000).toFixed(1)} s (${built.cachedSteps} of ${built.steps} steps cached); base images ${(baseMs / 1000).toFixed(1)} s`);
  project.provide('image', { tag: built.tag, nodeImage, sizeBytes, baseMs, buildMs: built.ms, cachedSteps: built.cachedSteps, steps: built.steps });
}

/**
 * The operator's image, built from the repository's Dockerfile with buildah exactly as a platform team would build
 * it (`docker build` works the same way), with the local Node base image as NODE_IMAGE.
 *
 * npm inside the build needs the registry. Where the way to it is a TLS-inspecting proxy (as on this machine), npm
 * must trust the proxy's CA: the npm config of this machine (registry and cafile) is bind-mounted into the build's
 * RUN steps as the global npmrc, read-only. Nothing of it lands in a layer, so the image is the same as one built
 * with direct access.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec, HOST_NETWORK, LIMITS, must, RUNTIME, tool } from './exec.js';
import { repoRoot, type Log } from './base.js';

export interface BuiltImage {
  tag: string;
  /** Wall time of `buildah build`. */
  ms: number;
  /** Steps served from buildah's layer cache. */
  cachedSteps: number;
  steps: number;
}

/** One tag per checkout, so worktrees building at once do not replace each other's image; layers are shared. */
export function imageTag(root = repoRoot): string {
  return `localhost/hsm-operator:image-tier-${createHash('sha256').update(root).digest('hex').slice(0, 8)}`;
}

async function npmConfig(key: string): Promise<string | undefined> {
  const r = await exec('npm', ['config', 'get', key], { timeoutMs: 30_000 });
  const v = r.stdout.trim();
  return r.code === 0 && v && v !== 'null' && v !== 'undefined' ? v : undefined;
}

/** `-v` mounts that give the build's npm this machine's registry and CA file (none when npm uses neither). */
async function npmMounts(work: string): Promise<string[]> {
  const registry = await npmConfig('registry');
  const cafile = await npmConfig('cafile');
  const lines = [...(registry ? [`registry=${registry}`] : []), ...(cafile && existsSync(cafile) ? ['cafile=/etc/hsm-build-npm/ca.crt'] : [])];
  if (!lines.length) return [];
  writeFileSync(join(work, 'npmrc'), lines.join('\n') + '\n', { mode: 0o644 });
  // /usr/local/etc/npmrc is the global npmrc of the npm in /usr/local (npm's prefix follows node's location).
  return ['-v', `${join(work, 'npmrc')}:/usr/local/etc/npmrc:ro`, ...(cafile && existsSync(cafile) ? ['-v', `${cafile}:/etc/hsm-build-npm/ca.crt:ro`] : [])];
}

/** `buildah build` of the Dockerfile with NODE_IMAGE set; layers are cached, so an unchanged tree rebuilds in seconds. */
export async function buildImage(o: { nodeImage: string; tag?: string; log?: Log }): Promise<BuiltImage> {
  const tag = o.tag ?? imageTag();
  const work = mkdtempSync(join(tmpdir(), 'hsm-image-build-'));
  try {
    const args = ['build', ...RUNTIME, ...LIMITS, ...HOST_NETWORK, '--layers', '--build-arg', `NODE_IMAGE=${o.nodeImage}`, ...(await npmMounts(work)), '-f', join(repoRoot, 'Dockerfile'), '-t', tag, repoRoot];
    const r = await exec(tool('buildah'), args, { onLine: (l) => (/^\[\d+\/\d+\] STEP /.test(l) ? o.log?.(l) : undefined), timeoutMs: 20 * 60_000 });
    if (r.code !== 0) throw new Error(`buildah build of the Dockerfile failed (${r.code}):\n${(r.stdout + r.stderr).slice(-6000)}`);
    const out = r.stdout + r.stderr;
    return { tag, ms: r.ms, cachedSteps: (out.match(/^--> Using cache /gm) ?? []).length, steps: (out.match(/^\[\d+\/\d+\] STEP /gm) ?? []).length };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The image's size as `podman image inspect` reports it (bytes, all layers). */
export async function imageSize(tag: string): Promise<number> {
  return Number((await must(tool('podman'), ['image', 'inspect', '--format', '{{.Size}}', tag])).trim());
}

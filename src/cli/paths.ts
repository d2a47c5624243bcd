/**
 * Where the CLI finds its own files. The same relative layout holds for src/cli/*.ts (tsx) and dist/cli/*.js
 * (compiled), so the repository root (or the image's /app) is two levels up either way.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The sandbox's state folder: `.sandbox/` in a checkout (git-ignored), else ~/.cache/hsm-operator/sandbox. */
export function sandboxStateDir(): string {
  if (process.env.HSM_SANDBOX_DIR) return resolve(process.env.HSM_SANDBOX_DIR);
  if (existsSync(join(packageRoot, '.git')) || existsSync(join(packageRoot, 'config', 'samples'))) return join(packageRoot, '.sandbox');
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'hsm-operator', 'sandbox');
}

/** The kubeconfig a running sandbox writes for `kubectl`, `status` and `explain-failure`. */
export function sandboxKubeconfigPath(): string {
  return join(sandboxStateDir(), 'kubeconfig');
}

/** The package's version (package.json ships next to dist/ in the image). */
export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

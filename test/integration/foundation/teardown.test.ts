/**
 * An interrupted test run (its process killed with SIGKILL) must not leave etcd or kube-apiserver behind:
 * the next run reaps them from the run records the harness writes.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { reapOrphans } from '../../support/controlplane.js';

const here = dirname(fileURLToPath(import.meta.url));
const child = resolve(here, '../../support/controlplane-child.ts');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('control plane teardown', () => {
  it('reaps etcd and kube-apiserver left by a killed run', async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', child], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    while (!out.includes('\n')) {
      if (proc.exitCode !== null) throw new Error(`child exited early: ${proc.exitCode}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const { pids, dir } = JSON.parse(out.trim()) as { pids: number[]; dir: string };
    expect(pids).toHaveLength(2);
    expect(pids.every(alive)).toBe(true);

    proc.kill('SIGKILL');
    await once(proc, 'exit');
    // Killed without a chance to clean up: its servers are orphans now.
    expect(pids.every(alive)).toBe(true);

    // At least ours; a concurrent run may have left others, which are reaped too.
    expect(reapOrphans()).toBeGreaterThanOrEqual(2);
    for (let i = 0; i < 50 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
    expect(pids.some(alive)).toBe(false);
    expect(existsSync(join(dir, 'etcd'))).toBe(false);
  });
});

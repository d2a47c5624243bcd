/** Writes the Argo CD health checks and their config snippets (see argocd-health.ts): `npx tsx src/observability/generate-argocd.ts`. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { argoCdFiles } from './argocd-health.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
for (const [path, text] of Object.entries(argoCdFiles())) {
  const target = join(root, path);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, text);
  process.stdout.write(`wrote ${path}\n`);
}

/** `npm run generate`: writes crds/*.yaml and docs/api.md from the schemas in src/api/ (deterministic). */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderGenerated } from './render.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const files = renderGenerated();

// Stale CRD files (a renamed kind) would otherwise linger and be installed.
const crdDir = join(repoRoot, 'crds');
mkdirSync(crdDir, { recursive: true });
for (const f of readdirSync(crdDir)) {
  if (f.endsWith('.yaml') && !files.has(`crds/${f}`)) rmSync(join(crdDir, f));
}
for (const [path, content] of files) {
  const abs = join(repoRoot, path);
  mkdirSync(dirname(abs), { recursive: true });
  writeFileSync(abs, content);
  process.stdout.write(`wrote ${path}\n`);
}

/**
 * A script run by node inside the image (from stdin): after the Dockerfile cut source maps, type declarations and
 * browser builds out of node_modules, every file Node can resolve is still there, and every production dependency
 * still imports. "Can resolve" follows Node's own rules: a package's `exports` targets under the conditions Node sets
 * (node, import, require, module-sync, default, node-addons), or its `main` when it has no `exports`. Prints one JSON
 * line: { packages, targets, missing[], importFailures[] }.
 */
export const ENTRY_POINT_CHECK = String.raw`
const fs = require('fs');
const path = require('path');
const NODE_CONDITIONS = new Set(['node', 'import', 'require', 'module-sync', 'default', 'node-addons']);
const missing = [];
let packages = 0;
let targets = 0;

function exists(file) {
  return [file, file + '.js', file + '.json', file + '.node', path.join(file, 'index.js')].some((f) => fs.existsSync(f) && fs.statSync(f).isFile());
}

function visit(dir, value, conditions) {
  if (typeof value === 'string') {
    // Patterns and folder mappings name no one file.
    if (value.includes('*') || value.endsWith('/')) return;
    targets++;
    if (!exists(path.join(dir, value))) missing.push(path.relative('/app', path.join(dir, value)) + ' (' + conditions.join(' > ') + ')');
    return;
  }
  if (Array.isArray(value)) return value.forEach((v) => visit(dir, v, conditions));
  if (!value || typeof value !== 'object') return;
  for (const [key, v] of Object.entries(value)) {
    if (key.startsWith('.')) visit(dir, v, [...conditions, key]);
    else if (NODE_CONDITIONS.has(key)) visit(dir, v, [...conditions, key]);
  }
}

function checkPackage(dir) {
  const pj = path.join(dir, 'package.json');
  if (!fs.existsSync(pj)) return;
  packages++;
  const p = JSON.parse(fs.readFileSync(pj, 'utf8'));
  if (p.exports !== undefined) visit(dir, p.exports, ['exports']);
  else if (typeof p.main === 'string' && p.main !== '') visit(dir, p.main, ['main']);
}

function walk(nodeModules) {
  if (!fs.existsSync(nodeModules)) return;
  for (const e of fs.readdirSync(nodeModules, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const d = path.join(nodeModules, e.name);
    if (e.name.startsWith('@')) {
      for (const s of fs.readdirSync(d, { withFileTypes: true })) if (s.isDirectory()) { checkPackage(path.join(d, s.name)); walk(path.join(d, s.name, 'node_modules')); }
    } else { checkPackage(d); walk(path.join(d, 'node_modules')); }
  }
}

(async () => {
  walk('/app/node_modules');
  const importFailures = [];
  // reflect-metadata first, as the operator imports it before @peculiar/x509 (whose tsyringe requires it).
  const deps = Object.keys(require('/app/package.json').dependencies).sort((a, b) => (b === 'reflect-metadata') - (a === 'reflect-metadata'));
  for (const dep of deps) {
    try { await import(dep); } catch (e) { importFailures.push(dep + ': ' + e.message); }
  }
  console.log(JSON.stringify({ packages, targets, missing, importFailures }));
  process.exit(0);
})();
`;

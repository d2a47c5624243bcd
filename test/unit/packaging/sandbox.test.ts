/**
 * The sandbox is outside the shipped operator: the production build compiles no sandbox file (not even one pulled in
 * through an import), and `npm start` runs the sandbox's own entry point.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
describe('the production build', () => {
  const configPath = join(root, 'tsconfig.build.json');
  const parsed = ts.parseJsonConfigFileContent(ts.readConfigFile(configPath, (p) => ts.sys.readFile(p)).config, ts.sys, root, undefined, configPath);
  const inRepo = (files: readonly string[]) => files.map((f) => relative(root, f).split('\\').join('/')).filter((f) => !f.startsWith('node_modules/') && !f.startsWith('..'));

  it('leaves src/sandbox/ out of the files it compiles', () => {
    expect(parsed.errors).toEqual([]);
    const files = inRepo(parsed.fileNames);
    expect(files).toContain('src/main.ts');
    expect(files).toContain('src/operator.ts');
    expect(files.filter((f) => f.startsWith('src/sandbox/'))).toEqual([]);
  });

  it('pulls no sandbox file in through an import of the code it compiles', () => {
    const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
    const files = inRepo(program.getSourceFiles().map((s) => s.fileName));
    expect(files.length).toBeGreaterThan(50);
    expect(files.filter((f) => !f.startsWith('src/'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('src/sandbox/'))).toEqual([]);
  });

  it('npm start runs the sandbox from its own entry point; the package bin is the operator alone', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };
    expect(pkg.scripts.start).toBe('tsx src/sandbox/main.ts');
    expect(pkg.bin).toEqual({ 'hsm-operator': 'dist/main.js' });
    expect(readFileSync(join(root, 'src/main.ts'), 'utf8')).not.toMatch(/sandbox/);
  });
});

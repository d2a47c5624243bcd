/**
 * The sandbox is outside the shipped operator: operator code may not load it (ESLint refuses static imports and
 * import() of sandbox paths, and import() of computed paths it cannot check), the production build compiles no
 * sandbox file (not even one pulled in through an import), and `npm start` runs the sandbox's own entry point.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const eslint = new ESLint({ cwd: root });

/** The rules that fire on `code` as if it were the file `path` of the repository. */
async function lint(path: string, code: string): Promise<{ ruleId: string | null; message: string }[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, path) });
  return (result?.messages ?? []).map((m) => ({ ruleId: m.ruleId, message: m.message }));
}

describe('lint: operator code never loads the sandbox', () => {
  it.each([
    ['a literal path', "export const load = () => import('../sandbox/run.js');"],
    ['a template path', 'export const load = () => import(`../sandbox/scenarios/index.js`);'],
    ['a deeper operator file', "export const load = async () => (await import('../../sandbox/world.js')).startWorld;"],
  ])('refuses import() of a sandbox path from src/cli: %s', async (_, code) => {
    const path = code.includes('../../') ? 'src/controllers/shared/evil.ts' : 'src/cli/evil.ts';
    const found = await lint(path, code);
    expect(found).toContainEqual({ ruleId: 'no-restricted-syntax', message: expect.stringMatching(/never loads the sandbox, not even with import\(\)/) });
  });

  it('refuses import() of a path computed at run time, which no rule could check', async () => {
    const found = await lint('src/cli/evil.ts', "const where = ['..', 'sandbox', 'run.js'].join('/');\nexport const load = () => import(where);");
    expect(found).toContainEqual({ ruleId: 'no-restricted-syntax', message: expect.stringMatching(/takes a string literal/) });
  });

  it('refuses a static import of the sandbox', async () => {
    const found = await lint('src/cli/evil.ts', "import { runSandbox } from '../sandbox/run.js';\nexport { runSandbox };");
    expect(found.map((m) => m.ruleId)).toContain('no-restricted-imports');
  });

  it('lets operator code import() other modules, and the sandbox load itself and the operator', async () => {
    expect(await lint('src/runtime/evil.ts', "export const load = () => import('../pki/certs.js');")).toEqual([]);
    expect(await lint('src/cli/evil.ts', "export const load = () => import('./sandboxed-things.js');")).toEqual([]);
    expect(await lint('src/sandbox/evil.ts', "export const load = () => import('./run.js');\nexport { runCommand } from '../cli/run.js';")).toEqual([]);
  });
});

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
    // Type-checking the whole operator takes seconds alone and longer beside the integration files.
  }, 120_000);

  it('npm start runs the sandbox from its own entry point; the package bin is the operator alone', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };
    expect(pkg.scripts.start).toBe('tsx src/sandbox/main.ts');
    expect(pkg.bin).toEqual({ 'hsm-operator': 'dist/main.js' });
    expect(readFileSync(join(root, 'src/main.ts'), 'utf8')).not.toMatch(/sandbox/);
  });
});

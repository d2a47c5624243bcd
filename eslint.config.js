// ESLint flat config: typescript-eslint's strict rules over src/, test/ and bench/.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'crds/**', 'charts/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-imports': 'off',
    },
  },
  {
    // Operator code must never reach into the simulators; only the sandbox wires them up, and it is not part of the
    // build or the image (tsconfig.build.json, .dockerignore). Static imports, and import() of a sandbox path or of a
    // path computed at run time (which no rule can check), are refused (test/unit/packaging/sandbox.test.ts).
    files: ['src/**/*.ts'],
    ignores: ['src/sandbox/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/sandbox/**', '../sandbox/*', './sandbox/*'], message: 'Operator code never imports a simulator; only src/sandbox/ wires them up.' }] }],
      'no-restricted-syntax': [
        'error',
        {
          // esquery regexes cannot hold a slash: \x2F is one. A path segment named sandbox, in a string or template.
          selector: 'ImportExpression[source.value=/(^|\\x2F)sandbox(\\x2F|$)/], ImportExpression > TemplateLiteral.source > TemplateElement[value.raw=/(^|\\x2F)sandbox(\\x2F|$)/]',
          message: 'Operator code never loads the sandbox, not even with import(): it is not part of the build or the image. Only src/sandbox/ (npm start) wires the simulators up.',
        },
        {
          selector: 'ImportExpression[source.type!="Literal"]',
          message: 'import() in operator code takes a string literal, so the lint can see what it loads (no computed paths).',
        },
      ],
    },
  },
);

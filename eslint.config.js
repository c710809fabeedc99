// ESLint: typescript-eslint's strict type-checked rules over the whole tree (src, test, bench, the JS configs),
// prettier's own rules off (formatting is prettier's job: `npm run format`). Rules tuned here carry their reason.
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'dist-bench/', 'coverage/', 'storage/'] },
  eslint.configs.recommended,
  tseslint.configs.strictTypeChecked,
  tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // With noUncheckedIndexedAccess, `xs[i]!` and `match[1]!` are how this code states an index or group it has
      // checked; no-unnecessary-type-assertion still reports every `!` the types do not need.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Numbers in messages (`${bytes} bytes`, `${status}`) are the common case and print as they should.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // `() => settle(false)` as a callback: the shorthand's value is ignored by whoever calls it.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // `||` on a string is deliberate: an empty variable or regex group means unset (`process.env.X || undefined`).
      '@typescript-eslint/prefer-nullish-coalescing': ['error', { ignorePrimitives: { string: true } }],
      // An `async` method that implements a Promise-returning contract without awaiting keeps its throws as rejections.
      '@typescript-eslint/require-await': 'off',
      // `_`-named bindings are unused on purpose (`const { secret: _secret, ...shown } = config`, `for await (const _ of …)`).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // Tests read answers as untyped JSON (`JSON.parse(res.body).errors[0].code`) and hand them straight to
    // `expect`, whose matchers are the type check; typing each body would add casts, not safety.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // The jest configs and global setup are plain JS outside every tsconfig: no type information.
    files: ['**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  prettier,
);

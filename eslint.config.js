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
    },
  },
  {
    // The jest configs and global setup are plain JS outside every tsconfig: no type information.
    files: ['**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  prettier,
);

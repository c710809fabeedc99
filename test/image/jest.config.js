// The image test alone (`npm run test:image`): it builds and runs the project's container image,
// which the unit and e2e projects must not wait for. Files are *.image.ts, so the unit project's
// *.test.ts pattern never picks them up.
/** @type {import('jest').Config} */
export default {
  rootDir: '../..',
  displayName: 'image',
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  testMatch: ['<rootDir>/test/image/**/*.image.ts'],
};

// ESM TypeScript through ts-jest; run with node --experimental-vm-modules (see package.json).
const common = {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  // Ceph's RGW for the S3 suites: started by the first suite that needs it, stopped at the end.
  globalSetup: '<rootDir>/test/storage/rgw-global-setup.js',
  globalTeardown: '<rootDir>/test/storage/rgw-global-teardown.js',
};

/** @type {import('jest').Config} */
export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/**/*.test.ts'], testPathIgnorePatterns: ['/test/e2e/'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] },
  ],
};

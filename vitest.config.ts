import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Every answer a test receives through request() is checked against /openapi.json.
    setupFiles: ['test/support/contract-setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Test files share one embedded PostgreSQL; each file uses its own accounts, so files may run
    // in parallel, but this machine has 2 cores.
    maxWorkers: 2,
    pool: 'forks',
  },
});

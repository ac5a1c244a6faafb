import { defineConfig } from 'vitest/config';

/**
 * Three projects, one command: `unit` (pure code, no I/O), `integration` (real Redis, DynamoDB API
 * via dynalite, real sockets; the global setup starts and stops them) and `infra` (CDK assertions).
 */
export default defineConfig({
  test: {
    // Most files wait on sockets, servers and timers rather than compute, so four run side by side
    // on two cores (vitest's default is cores - 1, one here). Files sharing a worker run in turn,
    // and the global setup gives each worker slot its own Redis and table prefix.
    maxWorkers: 4,
    // Off by default so a single-file run (`npx vitest run file`) is not failed by the global
    // thresholds; `npm test` turns it on with `vitest run --coverage`.
    coverage: {
      provider: 'v8',
      include: ['shared/**/*.ts', 'functions/**/*.ts', 'ingest-task/**/*.ts'],
      exclude: ['**/*.d.ts'],
      reporter: ['text-summary', 'json-summary', 'html'],
      // A failing test must not hide the figures; the run fails either way.
      reportOnFailure: true,
      // The test plan's production-ready target (docs/test-plan-index.md): 85 % lines, 75 % branches, held by each
      // tree on its own so a well-tested one cannot carry an untested one.
      thresholds: {
        lines: 85,
        branches: 75,
        'shared/**': { lines: 85, branches: 75 },
        'functions/**': { lines: 85, branches: 75 },
        'ingest-task/**': { lines: 85, branches: 75 },
      },
    },
    projects: [
      {
        extends: true,
        // A timeout here catches a hang, not slowness: property tests of thousands of runs take
        // seconds on a busy 2-core machine, and speed is judged by the benchmarks.
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 60_000 },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        extends: true,
        test: { name: 'infra', include: ['test/infra/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 120_000 },
      },
    ],
  },
});

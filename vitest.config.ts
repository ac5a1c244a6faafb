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

import { defineConfig } from 'vitest/config';

/**
 * The tests Stryker runs against each mutant (`npm run mutation`): the pure `unit` project only, so
 * a mutant of the domain or the order task processor is judged in seconds, without Redis or DynamoDB.
 */
export default defineConfig({
  // Instrumented code runs several times slower than the original.
  test: { include: ['test/unit/**/*.test.ts'], testTimeout: 60_000 },
});

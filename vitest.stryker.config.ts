import { defineConfig } from 'vitest/config';

/**
 * The tests Stryker runs against each mutant (`npm run mutation`): the pure `unit` project only, so
 * a mutant of the domain or the order task processor is judged in seconds, without Redis or DynamoDB.
 * `STRYKER_TESTS` (comma-separated globs) narrows them for a run over one area, e.g.
 * `STRYKER_TESTS='test/unit/market/**' npx stryker run --mutate 'shared/domain/market/**'`: the
 * dry run otherwise runs every unit test that imports the area, which takes minutes on shared cores.
 */
export default defineConfig({
  // Instrumented code runs several times slower than the original.
  test: {
    include: process.env.STRYKER_TESTS?.split(',') ?? ['test/unit/**/*.test.ts'],
    testTimeout: 60_000,
  },
});

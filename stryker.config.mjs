/**
 * Mutation testing of the pure core: the domain and the order task processor, judged by the unit
 * tests. Not part of `npm test` (it takes minutes); incremental, so a rerun tests only what changed.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.stryker.config.ts' },
  mutate: ['shared/domain/**/*.ts', 'functions/orders/order-task-processor.ts'],
  coverageAnalysis: 'perTest',
  // Two cores are shared by everyone on the machine.
  concurrency: 2,
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  ignoreStatic: true,
  thresholds: { high: 90, low: 80, break: null },
};

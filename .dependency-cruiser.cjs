/**
 * Layering rules (docs/architecture.md, "Layering"): the domain is pure, adapters are chosen in one place.
 * `npm run lint` runs these; a violation fails the test command.
 */
module.exports = {
  forbidden: [
    {
      name: 'domain-is-pure',
      comment:
        'shared/domain holds the business rules: it may import only itself, the ports, the contracts and zod. ' +
        'No adapter, no AWS SDK, no ioredis, no Node built-ins (clock, randomness and I/O are handed in).',
      severity: 'error',
      from: { path: '^shared/domain/' },
      to: {
        pathNot: ['^shared/domain/', '^shared/ports/', '^shared/contracts/', '^node_modules/zod/'],
      },
    },
    {
      name: 'domain-imports-no-sdk',
      comment: 'Named separately so the message is plain when it happens.',
      severity: 'error',
      from: { path: '^shared/(domain|ports|contracts)/' },
      to: { path: ['^node_modules/(@aws-sdk|ioredis|aws-cdk-lib|@aws-lambda-powertools|ws)/'] },
    },
    {
      name: 'adapters-only-through-wiring',
      comment:
        'Handlers and the ingest task get their adapters from the composition root (shared/wiring.ts); ' +
        'only the root, the adapters themselves, the local platform, tests and benchmarks import adapters.',
      severity: 'error',
      from: { pathNot: ['^shared/wiring\\.ts$', '^shared/adapters/', '^infra/local/', '^test/', '^bench/'] },
      to: { path: '^shared/adapters/' },
    },
    {
      name: 'handlers-use-no-sdk-directly',
      comment: 'Functions and the ingest task reach AWS and Redis through ports, never the SDKs.',
      severity: 'error',
      from: { path: ['^functions/', '^ingest-task/'] },
      to: { path: '^node_modules/(@aws-sdk|ioredis)/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-dev-dep',
      comment: 'Runtime code must not depend on devDependencies (tests, benchmarks and infra may).',
      severity: 'error',
      from: { path: '^(shared|functions|ingest-task)/', pathNot: '\\.test\\.ts$' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['^cdk\\.out', '^bench/results'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.json'],
    },
  },
};

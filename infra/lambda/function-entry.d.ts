/**
 * The function module a Lambda bundle wraps, aliased by esbuild at bundling time (see
 * `infra/lambda/handler-entry.ts`); every function module exports a `handler`.
 */
declare module '@ticker/function-entry' {
  export const handler: (event: never, context: never) => Promise<unknown>;
}

import { handler as functionHandler } from '@ticker/function-entry';
import { loadSecretEnvironment } from './secret-environment.js';

/**
 * The entry every Lambda bundle starts from: esbuild aliases `@ticker/function-entry` to the
 * function's own module (see the function construct). Function modules do nothing at import, so
 * reading the secrets here, before the container finishes its initialisation (the top-level
 * await holds it), puts them in `process.env` before the first invocation builds the components.
 */
// biome-ignore lint/style/noProcessEnv: this entry fills the environment the composition root then reads, before it does
await loadSecretEnvironment(process.env);

export const handler = functionHandler;

import { readdirSync } from 'node:fs';
import type { Scenario } from '../scenario.js';

const scenariosDir = new URL('../scenarios/', import.meta.url);

/** Every scenario of `bench/scenarios/`, in file-name order. */
export async function loadScenarios(): Promise<Scenario[]> {
  const files = readdirSync(scenariosDir)
    .filter((f) => f.endsWith('.ts'))
    .sort();
  const loaded: Scenario[] = [];
  for (const file of files) {
    const module = (await import(new URL(file, scenariosDir).href)) as { default?: Scenario };
    if (module.default) loaded.push(module.default);
  }
  return loaded;
}

import { readFileSync } from 'node:fs';
import type { OptionKind, PricingModel } from '../../../shared/domain/greeks/index.js';

/**
 * Loader for the mpmath reference values in `test/fixtures/greeks` (written by
 * `generate_reference.py`). The JSON files are tables (`fields` + `rows`) to stay small; this
 * turns each row into a typed record and fails loudly if a file does not have the expected shape.
 */

type Cell = string | number;

interface Table {
  readonly fields: readonly string[];
  readonly rows: readonly (readonly Cell[])[];
}

function loadTable(name: string): Table {
  const raw: unknown = JSON.parse(readFileSync(new URL(`../../fixtures/greeks/${name}`, import.meta.url), 'utf8'));
  if (typeof raw !== 'object' || raw === null || !('fields' in raw) || !('rows' in raw)) {
    throw new Error(`${name} is not a fields/rows table`);
  }
  const { fields, rows } = raw;
  if (!Array.isArray(fields) || !Array.isArray(rows)) throw new Error(`${name} is not a fields/rows table`);
  return { fields: fields.map(String), rows: rows as Cell[][] };
}

function records(name: string): Record<string, Cell>[] {
  const table = loadTable(name);
  return table.rows.map((row) => {
    if (row.length !== table.fields.length) throw new Error(`${name}: row of ${row.length} cells`);
    return Object.fromEntries(table.fields.map((field, i) => [field, row[i] ?? Number.NaN]));
  });
}

function num(record: Record<string, Cell>, field: string): number {
  const value = record[field];
  if (typeof value !== 'number') throw new Error(`field ${field} is not a number: ${String(value)}`);
  return value;
}

function str(record: Record<string, Cell>, field: string): string {
  const value = record[field];
  if (typeof value !== 'string') throw new Error(`field ${field} is not a string: ${String(value)}`);
  return value;
}

function kindOf(record: Record<string, Cell>): OptionKind {
  const kind = str(record, 'kind');
  if (kind !== 'CE' && kind !== 'PE') throw new Error(`unknown kind ${kind}`);
  return kind;
}

function modelOf(record: Record<string, Cell>): PricingModel {
  const model = str(record, 'model');
  if (model !== 'black-scholes' && model !== 'black-76') throw new Error(`unknown model ${model}`);
  return model;
}

/** Reference price and Greeks of one option, in the units of the public API. */
export interface ReferenceValues {
  readonly price: number;
  readonly delta: number;
  readonly gamma: number;
  readonly theta: number;
  readonly vega: number;
  readonly rho: number;
}

/** An option with its reference values. */
export interface ReferenceOption extends ReferenceValues {
  readonly model: PricingModel;
  readonly kind: OptionKind;
  readonly underlying: number;
  readonly strike: number;
  readonly timeToExpiryYears: number;
  readonly volatility: number;
  readonly rate: number;
  readonly dividendYield: number;
}

function referenceOption(record: Record<string, Cell>, model: PricingModel): ReferenceOption {
  return {
    model,
    kind: kindOf(record),
    underlying: num(record, 'underlying'),
    strike: num(record, 'strike'),
    timeToExpiryYears: num(record, 'timeToExpiryYears'),
    volatility: num(record, 'volatility'),
    rate: num(record, 'rate'),
    dividendYield: 'dividendYield' in record ? num(record, 'dividendYield') : 0,
    price: num(record, 'price'),
    delta: num(record, 'delta'),
    gamma: num(record, 'gamma'),
    theta: num(record, 'theta'),
    vega: num(record, 'vega'),
    rho: num(record, 'rho'),
  };
}

/** The accuracy grid: moneyness ±30 %, 1 hour to 1 year, volatility 5–100 %, both models. */
export function accuracyGrid(): ReferenceOption[] {
  return records('accuracy-grid.json').map((r) => referenceOption(r, modelOf(r)));
}

/** The TC-REG-010 golden master: 100 Black-Scholes scenarios on spot 19000. */
export function goldenMaster(): ReferenceOption[] {
  return records('golden-master.json').map((r) => referenceOption(r, 'black-scholes'));
}

/** The named options of the TC-GRK cases and the textbook examples. */
export function planCase(name: string): ReferenceOption {
  const record = records('plan-cases.json').find((r) => r.name === name);
  if (record === undefined) throw new Error(`no plan case ${name}`);
  return referenceOption(record, modelOf(record));
}

/** A premium with the volatility that reproduces it exactly (40-digit root), and its conditioning. */
export interface ReferenceQuote {
  readonly model: PricingModel;
  readonly kind: OptionKind;
  readonly underlying: number;
  readonly strike: number;
  readonly timeToExpiryYears: number;
  readonly rate: number;
  readonly dividendYield: number;
  readonly price: number;
  readonly volatility: number;
  /** price / (volatility · ∂price/∂volatility): how much a relative price error is amplified. */
  readonly conditionNumber: number;
}

/** Implied-volatility references for the grid options that have time value. */
export function impliedVolatilityReferences(): ReferenceQuote[] {
  return records('implied-volatility.json').map((r) => ({
    model: modelOf(r),
    kind: kindOf(r),
    underlying: num(r, 'underlying'),
    strike: num(r, 'strike'),
    timeToExpiryYears: num(r, 'timeToExpiryYears'),
    rate: num(r, 'rate'),
    dividendYield: num(r, 'dividendYield'),
    price: num(r, 'price'),
    volatility: num(r, 'volatility'),
    conditionNumber: num(r, 'conditionNumber'),
  }));
}

/** Reference values of erfc/erfcx and of the normal distribution. */
export function specialFunctionReferences(): {
  erfc: { x: number; erfc: number; erfcx: number }[];
  normal: { z: number; cdf: number; pdf: number }[];
} {
  const raw: unknown = JSON.parse(
    readFileSync(new URL('../../fixtures/greeks/special-functions.json', import.meta.url), 'utf8'),
  );
  if (typeof raw !== 'object' || raw === null || !('erfc' in raw) || !('normal' in raw)) {
    throw new Error('special-functions.json has an unexpected shape');
  }
  return raw as ReturnType<typeof specialFunctionReferences>;
}

/** |actual − expected| / |expected|. */
export function relativeError(actual: number, expected: number): number {
  return Math.abs(actual - expected) / Math.abs(expected);
}

/** A compact description of an option for assertion messages. */
export function describeOption(option: Omit<ReferenceOption, keyof ReferenceValues>): string {
  return `${option.model} ${option.kind} S=${option.underlying} K=${option.strike} T=${option.timeToExpiryYears} σ=${option.volatility} r=${option.rate} q=${option.dividendYield}`;
}

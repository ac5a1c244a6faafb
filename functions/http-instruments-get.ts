import { getInstrumentUseCase } from './api/instruments.js';
import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of the route built by {@link getInstrumentUseCase}. */
export const handler = lambdaHttpHandler('http-instruments-get', getInstrumentUseCase);

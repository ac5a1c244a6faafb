import { listInstrumentsUseCase } from './api/instruments.js';
import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of the route built by {@link listInstrumentsUseCase}. */
export const handler = lambdaHttpHandler('http-instruments-list', listInstrumentsUseCase);

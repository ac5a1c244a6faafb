import { quotesUseCase } from './api/market-snapshots.js';
import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of the route built by {@link quotesUseCase}. */
export const handler = lambdaHttpHandler('http-quotes', quotesUseCase);

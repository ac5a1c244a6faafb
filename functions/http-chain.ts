import { chainUseCase } from './api/market-snapshots.js';
import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of the route built by {@link chainUseCase}. */
export const handler = lambdaHttpHandler('http-chain', chainUseCase);

import { historyUseCase } from './api/history.js';
import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of the route built by {@link historyUseCase}. */
export const handler = lambdaHttpHandler('http-history', historyUseCase);

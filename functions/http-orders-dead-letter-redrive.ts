import { redriveOrderUseCase } from './api/dead-letters.js';
import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of the route built by {@link redriveOrderUseCase}. */
export const handler = lambdaHttpHandler('http-orders-dead-letter-redrive', redriveOrderUseCase);

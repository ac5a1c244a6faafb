import { cancelOrderUseCase } from './api/orders.js';
import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of the route built by {@link cancelOrderUseCase}. */
export const handler = lambdaHttpHandler('http-orders-cancel', cancelOrderUseCase);

import { getOrderUseCase } from './api/orders.js';
import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of the route built by {@link getOrderUseCase}. */
export const handler = lambdaHttpHandler('http-orders-get', getOrderUseCase);

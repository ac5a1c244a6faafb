import { modifyOrderUseCase } from './api/orders.js';
import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of the route built by {@link modifyOrderUseCase}. */
export const handler = lambdaHttpHandler('http-orders-modify', modifyOrderUseCase);

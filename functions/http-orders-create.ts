import { createOrderUseCase } from './api/orders.js';
import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of the route built by {@link createOrderUseCase}. */
export const handler = lambdaHttpHandler('http-orders-create', createOrderUseCase);

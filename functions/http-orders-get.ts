import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of `GET /orders/{task_id}` (`getOrderUseCase`), guarded as the route table says. */
export const handler = lambdaHttpHandler('http-orders-get', 'GET /orders/{task_id}');

import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of `PATCH /orders/{task_id}` (`modifyOrderUseCase`), guarded as the route table says. */
export const handler = lambdaHttpHandler('http-orders-modify', 'PATCH /orders/{task_id}');

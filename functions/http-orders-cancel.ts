import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of `DELETE /orders/{task_id}` (`cancelOrderUseCase`), guarded as the route table says. */
export const handler = lambdaHttpHandler('http-orders-cancel', 'DELETE /orders/{task_id}');

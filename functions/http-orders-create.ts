import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of `POST /orders` (`createOrderUseCase`), guarded as the route table says. */
export const handler = lambdaHttpHandler('http-orders-create', 'POST /orders');

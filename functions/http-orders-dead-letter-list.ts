import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of `GET /orders/dead-letter` (`listDeadLettersUseCase`), guarded as the route table says. */
export const handler = lambdaHttpHandler('http-orders-dead-letter-list', 'GET /orders/dead-letter');

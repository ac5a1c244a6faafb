import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of `POST /orders/dead-letter/{task_id}/redrive` (`redriveOrderUseCase`), guarded as the route table says. */
export const handler = lambdaHttpHandler(
  'http-orders-dead-letter-redrive',
  'POST /orders/dead-letter/{task_id}/redrive',
);

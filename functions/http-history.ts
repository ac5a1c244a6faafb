import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of `GET /history` (`historyUseCase`), guarded as the route table says. */
export const handler = lambdaHttpHandler('http-history', 'GET /history');

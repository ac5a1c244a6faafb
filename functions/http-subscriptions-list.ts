import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of `GET /subscriptions` (`listSubscriptionsUseCase`), guarded as the route table says. */
export const handler = lambdaHttpHandler('http-subscriptions-list', 'GET /subscriptions');

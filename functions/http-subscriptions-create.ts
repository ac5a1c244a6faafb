import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of `POST /subscriptions` (`createSubscriptionUseCase`), guarded as the route table says. */
export const handler = lambdaHttpHandler('http-subscriptions-create', 'POST /subscriptions');

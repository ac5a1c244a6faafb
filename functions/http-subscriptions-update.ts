import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of `PATCH /subscriptions/{token}` (`updateSubscriptionUseCase`), guarded as the route table says. */
export const handler = lambdaHttpHandler('http-subscriptions-update', 'PATCH /subscriptions/{token}');

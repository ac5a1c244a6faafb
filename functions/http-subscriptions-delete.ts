import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of `DELETE /subscriptions/{token}` (`deleteSubscriptionUseCase`), guarded as the route table says. */
export const handler = lambdaHttpHandler('http-subscriptions-delete', 'DELETE /subscriptions/{token}');

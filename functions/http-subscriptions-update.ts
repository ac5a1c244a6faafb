import { updateSubscriptionUseCase } from './api/subscriptions.js';
import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of the route built by {@link updateSubscriptionUseCase}. */
export const handler = lambdaHttpHandler('http-subscriptions-update', updateSubscriptionUseCase);

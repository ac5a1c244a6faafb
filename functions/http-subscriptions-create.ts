import { createSubscriptionUseCase } from './api/subscriptions.js';
import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of the route built by {@link createSubscriptionUseCase}. */
export const handler = lambdaHttpHandler('http-subscriptions-create', createSubscriptionUseCase);

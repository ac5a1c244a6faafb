import { deleteSubscriptionUseCase } from './api/subscriptions.js';
import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of the route built by {@link deleteSubscriptionUseCase}. */
export const handler = lambdaHttpHandler('http-subscriptions-delete', deleteSubscriptionUseCase);

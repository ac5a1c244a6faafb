import { listSubscriptionsUseCase } from './api/subscriptions.js';
import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of the route built by {@link listSubscriptionsUseCase}. */
export const handler = lambdaHttpHandler('http-subscriptions-list', listSubscriptionsUseCase);

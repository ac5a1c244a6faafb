import { listDeadLettersUseCase } from './api/dead-letters.js';
import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of the route built by {@link listDeadLettersUseCase}. */
export const handler = lambdaHttpHandler('http-orders-dead-letter-list', listDeadLettersUseCase);

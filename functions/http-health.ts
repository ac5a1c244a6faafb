import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of `GET /health` (`healthUseCase` in `functions/api/health.ts`): public, as the route table says. */
export const handler = lambdaHttpHandler('http-health', 'GET /health');

import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of `GET /chain` (`chainUseCase`), guarded as the route table says. */
export const handler = lambdaHttpHandler('http-chain', 'GET /chain');

import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of `GET /quotes` (`quotesUseCase`), guarded as the route table says. */
export const handler = lambdaHttpHandler('http-quotes', 'GET /quotes');

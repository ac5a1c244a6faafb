import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of `GET /instruments/{token}` (`getInstrumentUseCase`), guarded as the route table says. */
export const handler = lambdaHttpHandler('http-instruments-get', 'GET /instruments/{token}');

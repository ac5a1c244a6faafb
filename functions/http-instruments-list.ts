import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of `GET /instruments` (`listInstrumentsUseCase`), guarded as the route table says. */
export const handler = lambdaHttpHandler('http-instruments-list', 'GET /instruments');

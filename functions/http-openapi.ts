import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of `GET /openapi.json`: the document of the route table it is deployed with. */
export const handler = lambdaHttpHandler('http-openapi', 'GET /openapi.json');

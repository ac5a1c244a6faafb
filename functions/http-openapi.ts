import { openApiUseCase } from './api/openapi.js';
import { lambdaHttpHandler } from './http/lambda.js';
import { httpRoutes } from './routes.js';

/** Lambda entry of `GET /openapi.json`: the document of the route table it is deployed with. */
export const handler = lambdaHttpHandler('http-openapi', () => openApiUseCase(() => httpRoutes));

import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of `GET /asyncapi.json` (`asyncApiUseCase`): the WebSocket API's document. */
export const handler = lambdaHttpHandler('http-asyncapi', 'GET /asyncapi.json');

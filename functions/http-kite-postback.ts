import { kitePostbackUseCase } from './api/kite-postback.js';
import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of the route built by {@link kitePostbackUseCase}. */
export const handler = lambdaHttpHandler('http-kite-postback', kitePostbackUseCase);

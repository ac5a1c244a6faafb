import { lambdaHttpHandler } from './http/lambda.js';

/** Lambda entry of `POST /kite/postback` (`kitePostbackUseCase`), guarded as the route table says. */
export const handler = lambdaHttpHandler('http-kite-postback', 'POST /kite/postback');

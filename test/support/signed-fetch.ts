import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from '../../infra/local/sigv4-verifier.js';

/** A raw HTTP call signed with AWS Signature V4, for requests no SDK would send (malformed bodies). */
export async function signedFetch(
  url: string,
  init: { method: string; headers?: Record<string, string>; body?: string },
  credentials: { accessKeyId: string; secretAccessKey: string },
  options: { service?: string; region?: string; signingDate?: Date } = {},
): Promise<Response> {
  const target = new URL(url);
  const signer = new SignatureV4({
    credentials,
    region: options.region ?? 'ap-south-1',
    service: options.service ?? 'sqs',
    sha256: NodeSha256,
  });
  const signed = await signer.sign(
    {
      method: init.method,
      protocol: target.protocol,
      hostname: target.hostname,
      port: Number(target.port),
      path: target.pathname,
      query: Object.fromEntries(target.searchParams),
      headers: { ...init.headers, host: target.host },
      body: init.body,
    },
    options.signingDate === undefined ? {} : { signingDate: options.signingDate },
  );
  const headers = Object.fromEntries(Object.entries(signed.headers).filter(([name]) => name !== 'host'));
  return fetch(url, { method: init.method, headers, ...(init.body !== undefined && { body: init.body }) });
}

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';

/** The key pair local AWS-shaped endpoints accept (`LOCAL_AWS_ACCESS_KEY_ID`, `LOCAL_AWS_SECRET_ACCESS_KEY`). */
export interface LocalCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** A request as the verifier needs it: the raw path and query as sent, headers, and the body read. */
export interface SignedRequest {
  readonly method: string;
  /** `req.url` as received: the path and query, still percent-encoded. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Uint8Array;
}

/** Why a request was refused, in AWS's own error codes (the SDKs map them to their classes). */
export interface SignatureFailure {
  readonly code: 'MissingAuthenticationToken' | 'InvalidClientTokenId' | 'SignatureDoesNotMatch';
  readonly message: string;
}

/** AWS refuses a signature whose `X-Amz-Date` is more than 15 minutes from its clock. */
const MAX_SKEW_MS = 15 * 60_000;
const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

/** node:crypto behind the `Checksum` shape the signer expects (it takes a constructor). */
export class NodeSha256 {
  readonly #hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash =
      secret === undefined
        ? createHash('sha256')
        : createHmac('sha256', typeof secret === 'string' ? secret : Buffer.from(secret as Uint8Array));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(typeof data === 'string' ? data : Buffer.from(data as Uint8Array));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#hash.digest()));
  }
  reset(): void {}
}

/**
 * Verifies AWS Signature V4 on requests to the local SQS endpoint and `@connections`, so that on
 * a shared machine no other local process can place orders, purge a queue or post to a client.
 * It recomputes the signature with the AWS SDK's own signer (`@smithy/signature-v4`) over exactly
 * the headers the caller signed, at the caller's `X-Amz-Date`, and compares in constant time.
 */
export class SigV4Verifier {
  readonly #credentials: LocalCredentials;
  readonly #now: () => number;

  constructor(credentials: LocalCredentials, now: () => number = Date.now) {
    this.#credentials = credentials;
    this.#now = now;
  }

  /** Resolves undefined when the signature checks out, or the failure to send as a 403. */
  async verify(request: SignedRequest): Promise<SignatureFailure | undefined> {
    const authorization = header(request.headers, 'authorization');
    if (authorization === undefined) {
      return { code: 'MissingAuthenticationToken', message: 'Request is missing Authentication Token' };
    }
    const parts = AUTHORIZATION.exec(authorization);
    if (parts === null) {
      return {
        code: 'SignatureDoesNotMatch',
        message: 'The Authorization header is not an AWS4-HMAC-SHA256 signature',
      };
    }
    const [, accessKeyId, day, region, service, signedHeaderList, signature] = parts as unknown as string[];
    if (accessKeyId !== this.#credentials.accessKeyId) {
      return { code: 'InvalidClientTokenId', message: 'The security token included in the request is invalid' };
    }
    const amzDate = header(request.headers, 'x-amz-date');
    const signingDate = amzDate === undefined ? undefined : parseAmzDate(amzDate);
    if (signingDate === undefined || !amzDate?.startsWith(day ?? '')) {
      return { code: 'SignatureDoesNotMatch', message: 'X-Amz-Date is missing or does not match the credential scope' };
    }
    if (Math.abs(this.#now() - signingDate.getTime()) > MAX_SKEW_MS) {
      return { code: 'SignatureDoesNotMatch', message: 'Signature expired: X-Amz-Date is more than 15 minutes away' };
    }
    const signedNames = (signedHeaderList ?? '').split(';');
    const headers: Record<string, string> = {};
    for (const name of signedNames) {
      // The body's hash is recomputed from the body, never taken from the caller's header.
      if (name === 'x-amz-content-sha256') continue;
      const value = header(request.headers, name);
      if (value !== undefined) headers[name] = value;
    }
    const url = new URL(request.url, 'http://local');
    const query: Record<string, string | string[]> = {};
    for (const key of new Set(url.searchParams.keys())) {
      const values = url.searchParams.getAll(key);
      query[key] = values.length === 1 ? (values[0] as string) : values;
    }
    const signer = new SignatureV4({
      credentials: this.#credentials,
      region: region ?? '',
      service: service ?? '',
      sha256: NodeSha256,
      applyChecksum: signedNames.includes('x-amz-content-sha256'),
    });
    const signed = await signer.sign(
      {
        method: request.method,
        protocol: 'http:',
        hostname: 'local',
        path: url.pathname,
        query,
        headers,
        body: request.body,
      },
      { signingDate },
    );
    const expected = /Signature=([0-9a-f]{64})$/.exec(String(signed.headers.authorization ?? ''))?.[1] ?? '';
    const matches =
      expected.length === signature?.length && timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
    return matches
      ? undefined
      : {
          code: 'SignatureDoesNotMatch',
          message: 'The request signature we calculated does not match the signature you provided',
        };
  }
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** `20261207T220400Z` as a Date, or undefined when it is not that shape. */
function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  const date = new Date(Date.UTC(y ?? 0, (mo ?? 1) - 1, d, h, mi, s));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

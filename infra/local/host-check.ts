import type { IncomingMessage } from 'node:http';
import type { Config } from '../../shared/config.js';

/** `localhost`, `127.x.y.z` or `[::1]`, with or without a port. */
const LOOPBACK_HOST = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?$/i;

/** True when a `Host` header names this machine's loopback interface. */
export function isLoopbackHost(host: string | undefined): boolean {
  return LOOPBACK_HOST.test(host ?? '');
}

/**
 * Which `Host` headers the local platform serves: loopback names, the address it listens on (unless
 * a wildcard) and `LOCAL_ALLOWED_HOSTS`. Any other name is refused, so a web page that rebinds its
 * own domain to this machine (DNS rebinding) cannot reach the API, the queues or `@connections`.
 */
export function hostPolicy(config: Pick<Config, 'host' | 'localAllowedHosts'>): (req: IncomingMessage) => boolean {
  const names = new Set(config.localAllowedHosts.map((name) => name.toLowerCase()));
  if (config.host !== '0.0.0.0' && config.host !== '::') names.add(config.host.toLowerCase());
  return (req) => {
    const host = req.headers.host;
    if (host === undefined) return false;
    if (isLoopbackHost(host)) return true;
    const name = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(host)?.[1]?.toLowerCase();
    return name !== undefined && names.has(name);
  };
}

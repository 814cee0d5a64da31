// The one place libvirt's typed errors become raptor's kinds (and so exit codes and, later, HTTP statuses).
import { RaptorError } from '../core/errors.ts';
import { isAuthFailure, isDenied, isNoDomain, LibvirtError, type Hypervisor } from '../libvirt/hypervisor.ts';

/** not-found for a missing (or hidden) domain, not-allowed for a refusal; other libvirt failures are unexpected. */
export function raptorErrorOf(err: unknown): unknown {
  if (!(err instanceof LibvirtError)) return err;
  if (isNoDomain(err)) return new RaptorError('not-found', err.message || 'domain not found', { cause: err });
  if (isDenied(err) || isAuthFailure(err)) return new RaptorError('not-allowed', `libvirt: ${err.message || 'access denied'}`, { cause: err });
  // the failed command's own message (what an admin would replay) when the client ran one
  return new RaptorError('unexpected', err.cause instanceof Error ? err.cause.message : `libvirt: ${err.message}`, { cause: err });
}

/** The same hypervisor, with every failure passed through raptorErrorOf (the predicates still see libvirt's code in the cause). */
export function withRaptorErrors(hv: Hypervisor): Hypervisor {
  return new Proxy(hv, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        return result instanceof Promise ? result.catch((err: unknown) => Promise.reject(raptorErrorOf(err))) : result;
      };
    },
  });
}

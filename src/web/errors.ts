// Typed errors to HTTP, in one place: the same kinds the CLI maps to exit codes.
import { EXIT_CODES, RaptorError, type ErrorKind } from '../core/errors.ts';

export const HTTP_STATUS: Record<ErrorKind, 400 | 403 | 404 | 409 | 500> = {
  'bad-input': 400,
  conflict: 409,
  'not-found': 404,
  'not-allowed': 403,
  unexpected: 500,
};

/** No valid credentials: the only error that is not one of raptor's kinds. */
export class Unauthorized extends Error {
  constructor(message = 'sign in first: raptor web login, or a bearer token from raptor web token') {
    super(message);
    this.name = 'Unauthorized';
  }
}

export interface ErrorBody {
  error: { code: string; exitCode?: number; message: string };
}

export function errorBody(err: unknown): { status: 400 | 401 | 403 | 404 | 409 | 500; body: ErrorBody } {
  if (err instanceof Unauthorized) return { status: 401, body: { error: { code: 'unauthorized', message: err.message } } };
  if (err instanceof RaptorError) return { status: HTTP_STATUS[err.kind], body: { error: { code: err.kind, exitCode: EXIT_CODES[err.kind], message: err.message } } };
  // an unexpected error's text may name host internals, but the CLI shows the same to its caller
  const message = err instanceof Error ? err.message : String(err);
  return { status: 500, body: { error: { code: 'unexpected', exitCode: EXIT_CODES.unexpected, message } } };
}

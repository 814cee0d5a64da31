// Typed errors with stable kinds; the CLI maps kinds to exit codes in one place (docs/house-rules.md, "Exit codes").

export type ErrorKind = 'unexpected' | 'bad-input' | 'conflict' | 'not-found' | 'not-allowed';

export const EXIT_CODES: Record<ErrorKind, number> = {
  unexpected: 1,
  'bad-input': 2,
  conflict: 3,
  'not-found': 4,
  'not-allowed': 5,
};

export class RaptorError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.name = 'RaptorError';
  }
  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

export const badInput = (message: string): RaptorError => new RaptorError('bad-input', message);
export const conflict = (message: string): RaptorError => new RaptorError('conflict', message);
export const notFound = (message: string): RaptorError => new RaptorError('not-found', message);
export const notAllowed = (message: string): RaptorError => new RaptorError('not-allowed', message);

export function isRaptorError(err: unknown, kind?: ErrorKind): err is RaptorError {
  return err instanceof RaptorError && (kind === undefined || err.kind === kind);
}

// The one command runner (docs/architecture.md): argv arrays only, LC_ALL=C, timeouts, structured errors.
import { spawn, type StdioOptions } from 'node:child_process';
import { Duplex } from 'node:stream';
import { RaptorError } from '../core/errors.ts';

export interface RunOptions {
  input?: string | Buffer;
  timeoutMs?: number;
  env?: Record<string, string>;
  /** exit codes that are not errors (default: only 0) */
  okCodes?: number[];
  /** the child shares this process's terminal (stdin, stdout, stderr): nothing is captured */
  interactive?: boolean;
  /** hand this open file descriptor to the child as its fd 3 (flock(1) locks it for us) */
  fd3?: number;
  /**
   * A conversation with the child instead of `input`: write to its stdin and wait for its output
   * to reach a marker (one long-lived process answering requests that depend on earlier answers).
   */
  dialog?: (io: DialogIo) => Promise<void>;
  /** called with each stderr chunk (progress from child tools) */
  onStderr?: (chunk: string) => void;
  /** called with each stdout chunk (qemu-img -p writes its progress there) */
  onStdout?: (chunk: string) => void;
}

export interface DialogIo {
  write(text: string): void;
  /** resolves with the stdout after `from` up to the first `marker` after it, once it has arrived */
  until(marker: string, from: number): Promise<{ text: string; end: number }>;
  end(): void;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class CommandError extends RaptorError {
  readonly argv: string[];
  readonly code: number | null;
  readonly stderr: string;
  constructor(argv: string[], code: number | null, stderr: string, reason?: string) {
    const why = reason ?? `exited with code ${code}`;
    const detail = stderr.trim().split('\n').filter(Boolean).slice(-1)[0] ?? '';
    super('unexpected', `command failed: ${argv.join(' ')}: ${why}${detail ? `: ${detail}` : ''}`);
    this.argv = argv;
    this.code = code;
    this.stderr = stderr;
  }
}

export type Runner = (argv: string[], opts?: RunOptions) => Promise<RunResult>;

/** RAPTOR_TRACE=1 prints each command with its duration on stderr (for profiling). */
const trace = process.env.RAPTOR_TRACE === '1';

export const runCommand: Runner = (argv, opts = {}) =>
  new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    if (!cmd) return reject(new Error('runCommand: empty argv'));
    const stdio: StdioOptions = opts.interactive ? 'inherit' : opts.fd3 !== undefined ? ['ignore', 'pipe', 'pipe', opts.fd3] : ['pipe', 'pipe', 'pipe'];
    const child = spawn(cmd, args, {
      stdio,
      env: { ...process.env, LC_ALL: 'C', LANG: 'C', ...opts.env },
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer =
      opts.timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, opts.timeoutMs)
        : undefined;
    const waiters: (() => void)[] = [];
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      opts.onStdout?.(d);
      for (const w of waiters.splice(0)) w();
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      opts.onStderr?.(d);
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new CommandError(argv, null, '', err.code === 'ENOENT' ? 'command not found' : err.message));
    });
    const t0 = trace ? performance.now() : 0;
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (trace) process.stderr.write(`raptor-trace: at ${t0.toFixed(0)} ms: ${(performance.now() - t0).toFixed(0)} ms ${argv.join(' ').slice(0, 160)}\n`);
      const c = code ?? 128;
      if (timedOut) return reject(new CommandError(argv, null, stderr, `timed out after ${opts.timeoutMs} ms`));
      if (signal) return reject(new CommandError(argv, null, stderr, `killed by ${signal}`));
      if (!(opts.okCodes ?? [0]).includes(c)) return reject(new CommandError(argv, c, stderr));
      resolve({ code: c, stdout, stderr });
    });
    if (child.stdin) {
      child.stdin.on('error', () => {}); // the child may exit before reading all input
      if (opts.dialog) {
        const stdin = child.stdin;
        let closed = false;
        child.on('close', () => {
          closed = true;
          for (const w of waiters.splice(0)) w();
        });
        const io: DialogIo = {
          write: (text) => void stdin.write(text),
          end: () => stdin.end(),
          until: (marker, from) =>
            new Promise((res, rej) => {
              const check = () => {
                const at = stdout.indexOf(marker, from);
                if (at >= 0) return res({ text: stdout.slice(from, at), end: at + marker.length });
                if (closed) return rej(new CommandError(argv, child.exitCode, stderr, `ended before printing ${marker}`));
                waiters.push(check);
              };
              check();
            }),
        };
        opts.dialog(io).catch((err: unknown) => {
          child.kill('SIGKILL');
          reject(err);
        });
      } else {
        child.stdin.end(opts.input ?? '');
      }
    }
  });

export interface ChildStream {
  /** writes go to the child's stdin, reads come from its stdout; destroying it ends the child */
  stream: Duplex;
  /** when the child is gone: its exit code (null: killed) and what it wrote on stderr */
  exited: Promise<{ code: number | null; stderr: string }>;
}

export interface StreamOptions {
  env?: Record<string, string>;
  /** written to the child's stdin when the stream is destroyed, so it can leave on its own (a console's escape key) */
  farewell?: string;
  /** how long the child may take to leave before SIGTERM (then SIGKILL after as long again); default 1000 ms */
  graceMs?: number;
}

export type StreamOpener = (argv: string[], opts?: StreamOptions) => ChildStream;

/** A long-lived child as a byte stream (a console, a protocol over stdio); argv only, LC_ALL=C. */
export const openCommandStream: StreamOpener = (argv, opts = {}) => {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('openCommandStream: empty argv');
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C', LANG: 'C', ...opts.env } });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.on('error', () => {}); // the child may exit before reading what was written
  const alive = () => child.exitCode === null && child.signalCode === null;
  const stream = new Duplex({
    read: () => void child.stdout.resume(),
    write: (chunk: Buffer, _enc, cb) => void child.stdin.write(chunk, (err) => cb(err ?? null)),
    final: (cb) => {
      child.stdin.end();
      cb();
    },
    destroy: (err, cb) => {
      if (alive()) {
        if (opts.farewell !== undefined) child.stdin.write(opts.farewell);
        child.stdin.end();
        const grace = opts.graceMs ?? 1000;
        const term = setTimeout(() => alive() && child.kill('SIGTERM'), grace);
        const kill = setTimeout(() => alive() && child.kill('SIGKILL'), 2 * grace);
        child.once('close', () => {
          clearTimeout(term);
          clearTimeout(kill);
        });
      }
      cb(err);
    },
  });
  child.stdout.on('data', (d: Buffer) => {
    if (!stream.push(d)) child.stdout.pause();
  });
  child.stdout.on('end', () => stream.push(null));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => {
    child.on('error', (err: NodeJS.ErrnoException) => {
      stream.destroy(new CommandError(argv, null, stderr, err.code === 'ENOENT' ? 'command not found' : err.message));
      resolve({ code: null, stderr });
    });
    child.on('close', (code) => resolve({ code, stderr }));
  });
  return { stream, exited };
};

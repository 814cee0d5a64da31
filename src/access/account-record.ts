// Which host accounts raptor made (or, with --add-existing, put into the user group), kept on the
// host in one root-only JSON file (access.accounts_file). `user remove` deletes only accounts this
// record says raptor created, with the uid they had then. The file is replaced atomically; a missing
// file is an empty record; a file others could have written is refused, never trusted.
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { notAllowed, RaptorError } from '../core/errors.ts';
import { dirProblems, fileProblems, writeTrustedAtomic } from '../host/trusted-files.ts';
import type { AccountRecord, AccountRecordEntry } from './account-types.ts';

export { recordedEntry, withEntry, withoutUser, type AccountRecord, type AccountRecordEntry } from './account-types.ts';

export const RECORD_MODE = 0o600;
const errCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

const isEntry = (e: unknown): e is AccountRecordEntry => {
  const x = e as Record<string, unknown>;
  return typeof x === 'object' && x !== null && typeof x.user === 'string' && Number.isSafeInteger(x.uid) && (x.how === 'created' || x.how === 'added') && typeof x.at === 'string' && typeof x.by === 'string';
};

/** The record, or an empty one when the file does not exist; refuses a file others could have written. */
export function readAccountRecord(path: string): AccountRecord {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if (errCode(err) === 'ENOENT') return { version: 1, accounts: [] };
    if (errCode(err) === 'ELOOP') throw notAllowed(`refusing to trust the account record: ${path} is a symbolic link; fix: replace it by the file it points to (chmod 0600, owned by root)`);
    throw notAllowed(`cannot read the account record ${path}: ${errCode(err) ?? (err as Error).message}${process.geteuid?.() !== 0 ? ' (run it as root: sudo raptor …)' : ''}`);
  }
  let text: string;
  try {
    const problems = [...dirProblems(dirname(path)), ...fileProblems(path, fstatSync(fd), RECORD_MODE)];
    if (problems.length) {
      const p = problems[0]!;
      throw notAllowed(`refusing to trust the account record: ${p.path} ${p.problem}; fix: ${p.fix}, after checking its content`);
    }
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new RaptorError('unexpected', `the account record ${path} is not valid JSON; fix it by hand (a JSON object {"version":1,"accounts":[…]}) or move it away`);
  }
  const d = doc as { version?: unknown; accounts?: unknown };
  if (d?.version !== 1 || !Array.isArray(d.accounts) || !d.accounts.every(isEntry)) {
    throw new RaptorError('unexpected', `the account record ${path} does not hold {"version":1,"accounts":[{user,uid,how,at,by}…]}; fix it by hand or move it away`);
  }
  return { version: 1, accounts: d.accounts };
}

/** Replace the record atomically (temp file, fsync, rename), 0600 in a directory made 0700. */
export function writeAccountRecord(path: string, record: AccountRecord): void {
  const sorted = { version: 1, accounts: [...record.accounts].sort((a, b) => a.user.localeCompare(b.user)) };
  writeTrustedAtomic(path, JSON.stringify(sorted, null, 2) + '\n', RECORD_MODE, 'the account record');
}

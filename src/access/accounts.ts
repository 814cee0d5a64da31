// Host accounts and groups: the narrow `Accounts` interface the service and the account steps
// use, and its real implementation over the shadow utils (getent, useradd, usermod, gpasswd,
// userdel, groupadd, groupdel) through the command runner. The account record and each user's
// authorized_keys are files behind the same interface; the keys file is read and written with
// the user's own credentials.
import { chmodSync, lstatSync, mkdirSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { conflict, isRaptorError, RaptorError } from '../core/errors.ts';
import { readBoundedText } from '../host/files.ts';
import { ensureSafeDir } from '../host/trusted-files.ts';
import type { Runner } from '../host/runner.ts';
import { AUTHORIZED_KEYS_MODE } from './ssh-keys.ts';
import { readAccountRecord, writeAccountRecord } from './account-record.ts';
import type { Account, AccountRecord, Accounts, AuthorizedKeysFile, AuthorizedKeysWant, Group } from './account-types.ts';

export type { Account, Accounts, AuthorizedKeysFile, AuthorizedKeysWant, Group } from './account-types.ts';

/** Largest authorized_keys raptor merges into (hundreds of keys). */
export const MAX_AUTHORIZED_KEYS_BYTES = 1024 * 1024;

/** The real accounts: shadow utils through the runner, files through node:fs. */
export class ShadowAccounts implements Accounts {
  constructor(
    private readonly run: Runner,
    readonly recordPath: string,
  ) {}

  async user(name: string): Promise<Account | undefined> {
    // getent exits 2 when the key is not found
    const r = await this.run(['getent', 'passwd', name], { okCodes: [0, 2], timeoutMs: 30_000 });
    const f = r.code === 0 ? r.stdout.trim().split('\n')[0]!.split(':') : [];
    if (f.length < 7) return undefined;
    return { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]!, shell: f[6]! };
  }

  async group(name: string): Promise<Group | undefined> {
    const r = await this.run(['getent', 'group', name], { okCodes: [0, 2], timeoutMs: 30_000 });
    const f = r.code === 0 ? r.stdout.trim().split('\n')[0]!.split(':') : [];
    if (f.length < 4) return undefined;
    return { name: f[0]!, gid: Number(f[2]), members: f[3]!.split(',').filter(Boolean) };
  }

  async groupsOf(name: string): Promise<string[]> {
    return (await this.run(['id', '-Gn', '--', name], { timeoutMs: 30_000 })).stdout.trim().split(/\s+/).filter(Boolean);
  }

  async createGroup(name: string): Promise<void> {
    await this.run(['groupadd', '--', name], { timeoutMs: 60_000 });
  }

  async removeGroup(name: string): Promise<void> {
    await this.run(['groupdel', '--', name], { timeoutMs: 60_000 });
  }

  async createUser(name: string, group: string): Promise<void> {
    await this.run(['useradd', '--create-home', '--shell', '/bin/bash', '--groups', group, '--', name], { timeoutMs: 60_000 });
  }

  async addToGroup(name: string, group: string): Promise<void> {
    await this.run(['usermod', '--append', '--groups', group, '--', name], { timeoutMs: 60_000 });
  }

  async removeFromGroup(name: string, group: string): Promise<void> {
    await this.run(['gpasswd', '--delete', name, group], { timeoutMs: 60_000 });
  }

  async removeUser(name: string, purge: boolean): Promise<void> {
    await this.run(['userdel', ...(purge ? ['--remove'] : []), '--', name], { timeoutMs: 120_000 });
  }

  async readRecord(): Promise<AccountRecord> {
    return readAccountRecord(this.recordPath);
  }

  async writeRecord(record: AccountRecord): Promise<void> {
    writeAccountRecord(this.recordPath, record);
  }

  async prepareRecord(): Promise<void> {
    ensureSafeDir(dirname(this.recordPath), 0o700, 'the account record');
  }

  async readAuthorizedKeys(account: Account): Promise<AuthorizedKeysFile> {
    return readAuthorizedKeysAs(account);
  }

  async writeAuthorizedKeys(account: Account, want: AuthorizedKeysWant): Promise<void> {
    writeAuthorizedKeysAs(account, want);
  }
}

/**
 * Run `fn` with the account's uid/gid as effective ids, so every path under its home is opened
 * with its rights (a symlink the user planted cannot make root write elsewhere) and new files are
 * its own. Synchronous on purpose: nothing else runs while the ids are switched.
 */
export function asUser<T>(account: Pick<Account, 'uid' | 'gid'>, fn: () => T): T {
  const uid = process.getuid?.();
  if (uid !== 0 || account.uid === 0) return fn();
  const groups = process.getgroups!();
  const egid = process.getegid!();
  process.setgroups!([account.gid]);
  process.setegid!(account.gid);
  process.seteuid!(account.uid);
  try {
    return fn();
  } finally {
    process.seteuid!(0);
    process.setegid!(egid);
    process.setgroups!(groups);
  }
}

const errCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

export const authorizedKeysPath = (account: Pick<Account, 'home'>): string => join(account.home, '.ssh', 'authorized_keys');

const failAs = (account: Account, what: string, err: unknown): never => {
  throw new RaptorError('unexpected', `${what} as ${account.name}: ${errCode(err) ?? (err as Error).message}`, { cause: err });
};

const readAuthorizedKeysAs = (account: Account): AuthorizedKeysFile => asUser(account, () => readAuthorizedKeysHere(account));

/** Call only inside asUser (it does not switch ids itself: a nested switch would fail). */
function readAuthorizedKeysHere(account: Account): AuthorizedKeysFile {
  const dir = join(account.home, '.ssh');
  const path = authorizedKeysPath(account);
  {
    let dirStat;
    try {
      dirStat = lstatSync(dir);
    } catch (err) {
      if (errCode(err) !== 'ENOENT') failAs(account, `cannot look at ${dir}`, err);
      return { path };
    }
    if (!dirStat.isDirectory()) throw conflict(`${dir} is not a directory; fix it by hand, then rerun`);
    const out: AuthorizedKeysFile = { path, dirMode: dirStat.mode & 0o777 };
    try {
      // the user controls this path: a FIFO, a device or a huge file must not hang or exhaust raptor
      out.text = readBoundedText(path, 'authorized_keys', MAX_AUTHORIZED_KEYS_BYTES, { missing: 'not-found', denied: 'unexpected' });
      out.fileMode = lstatSync(path).mode & 0o777;
    } catch (err) {
      if (isRaptorError(err, 'bad-input')) throw conflict(`${err.message}; fix it by hand, then rerun`);
      if (!isRaptorError(err, 'not-found')) failAs(account, `cannot read ${path}`, err);
    }
    return out;
  }
}

function writeAuthorizedKeysAs(account: Account, want: AuthorizedKeysWant): void {
  const dir = join(account.home, '.ssh');
  const path = authorizedKeysPath(account);
  asUser(account, () => {
    const now = (() => {
      try {
        return readAuthorizedKeysHere(account);
      } catch {
        return { path } as AuthorizedKeysFile;
      }
    })();
    if (want.dirMode === undefined) {
      // undo of a step that made ~/.ssh: remove the file, then the directory if nothing else is in it
      rmSync(path, { force: true });
      try {
        rmdirSync(dir);
      } catch (err) {
        if (errCode(err) !== 'ENOENT' && errCode(err) !== 'ENOTEMPTY') failAs(account, `cannot remove ${dir}`, err);
      }
      return;
    }
    try {
      if (now.dirMode === undefined) mkdirSync(dir, { mode: want.dirMode });
      chmodSync(dir, want.dirMode);
    } catch (err) {
      failAs(account, `cannot create ${dir}`, err);
    }
    if (want.text === undefined) {
      rmSync(path, { force: true });
      return;
    }
    const mode = want.fileMode ?? AUTHORIZED_KEYS_MODE;
    if (want.text !== now.text) {
      // write beside it and rename: sshd never sees half a file
      const tmp = `${path}.raptor-${process.pid}`;
      try {
        writeFileSync(tmp, want.text, { mode, flag: 'wx' });
        chmodSync(tmp, mode);
        renameSync(tmp, path);
      } catch (err) {
        rmSync(tmp, { force: true });
        failAs(account, `cannot write ${path}`, err);
      }
    } else if (now.fileMode !== mode) {
      chmodSync(path, mode);
    }
  });
}

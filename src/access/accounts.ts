// Host accounts and groups through the shadow utils (getent, useradd, usermod, userdel, groupadd),
// all through the command runner; authorized_keys written with the user's own credentials.
import { chmodSync, lstatSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { conflict, isRaptorError, RaptorError } from '../core/errors.ts';
import { readBoundedText } from '../host/files.ts';
import type { Runner } from '../host/runner.ts';
import { mergeAuthorizedKeys, type SshPublicKey } from './ssh-keys.ts';

/** Largest authorized_keys raptor merges into (hundreds of keys). */
export const MAX_AUTHORIZED_KEYS_BYTES = 1024 * 1024;

export interface Account {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface Group {
  name: string;
  gid: number;
  members: string[];
}


export class Accounts {
  constructor(private readonly run: Runner) {}

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

  /** Every group the user is in (primary and supplementary), by name. */
  async groupsOf(name: string): Promise<string[]> {
    return (await this.run(['id', '-Gn', '--', name], { timeoutMs: 30_000 })).stdout.trim().split(/\s+/).filter(Boolean);
  }

  async createGroup(name: string): Promise<void> {
    await this.run(['groupadd', '--', name], { timeoutMs: 60_000 });
  }

  /** A login account with a home and bash, in `group`. */
  async createUser(name: string, group: string): Promise<void> {
    await this.run(['useradd', '--create-home', '--shell', '/bin/bash', '--groups', group, '--', name], { timeoutMs: 60_000 });
  }

  async addToGroup(name: string, group: string): Promise<void> {
    await this.run(['usermod', '--append', '--groups', group, '--', name], { timeoutMs: 60_000 });
  }

  async removeUser(name: string, purge: boolean): Promise<void> {
    await this.run(['userdel', ...(purge ? ['--remove'] : []), '--', name], { timeoutMs: 120_000 });
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

export interface KeyInstall {
  path: string;
  added: SshPublicKey[];
  present: SshPublicKey[];
  /** modes that were wrong and were set (0700 on ~/.ssh, 0600 on the file) */
  modesFixed: string[];
  /** ~/.ssh was created */
  createdDir: boolean;
}

const errCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

/** Add the keys not already in ~/.ssh/authorized_keys (compared by type + base64). */
export function installAuthorizedKeys(account: Account, keys: SshPublicKey[], opts: { dryRun?: boolean } = {}): KeyInstall {
  const dir = join(account.home, '.ssh');
  const path = join(dir, 'authorized_keys');
  return asUser(account, () => {
    const fail = (what: string, err: unknown): never => {
      throw new RaptorError('unexpected', `${what} as ${account.name}: ${errCode(err) ?? (err as Error).message}`, { cause: err });
    };
    const modesFixed: string[] = [];
    let createdDir = false;
    let dirStat;
    try {
      dirStat = lstatSync(dir);
    } catch (err) {
      if (errCode(err) !== 'ENOENT') fail(`cannot look at ${dir}`, err);
    }
    if (dirStat && !dirStat.isDirectory()) throw conflict(`${dir} is not a directory; fix it by hand, then rerun`);
    let existing = '';
    let fileMode: number | undefined;
    if (dirStat) {
      try {
        // the user controls this path: a FIFO, a device or a huge file must not hang or exhaust raptor
        existing = readBoundedText(path, 'authorized_keys', MAX_AUTHORIZED_KEYS_BYTES, { missing: 'not-found', denied: 'unexpected' });
        fileMode = lstatSync(path).mode & 0o777;
      } catch (err) {
        if (isRaptorError(err, 'bad-input')) throw conflict(`${err.message}; fix it by hand, then rerun`);
        if (!isRaptorError(err, 'not-found')) fail(`cannot read ${path}`, err);
      }
    }
    const merge = mergeAuthorizedKeys(existing, keys);
    if (opts.dryRun) {
      return { path, added: merge.added, present: merge.present, modesFixed, createdDir: !dirStat };
    }
    if (!dirStat) {
      if (keys.length === 0) return { path, added: [], present: [], modesFixed, createdDir };
      try {
        mkdirSync(dir, { mode: 0o700 });
      } catch (err) {
        fail(`cannot create ${dir}`, err);
      }
      createdDir = true;
    } else if ((dirStat.mode & 0o777) !== 0o700) {
      chmodSync(dir, 0o700);
      modesFixed.push(`${dir} 0${(dirStat.mode & 0o777).toString(8)} -> 0700`);
    }
    if (merge.added.length > 0) {
      // write beside it and rename: sshd never sees half a file
      const tmp = `${path}.raptor-${process.pid}`;
      try {
        writeFileSync(tmp, merge.text, { mode: 0o600, flag: 'wx' });
        chmodSync(tmp, 0o600);
        renameSync(tmp, path);
      } catch (err) {
        rmSync(tmp, { force: true });
        fail(`cannot write ${path}`, err);
      }
      if (fileMode !== undefined && fileMode !== 0o600) modesFixed.push(`${path} 0${fileMode.toString(8)} -> 0600`);
    } else if (fileMode !== undefined && fileMode !== 0o600) {
      chmodSync(path, 0o600);
      modesFixed.push(`${path} 0${fileMode.toString(8)} -> 0600`);
    }
    return { path, added: merge.added, present: merge.present, modesFixed, createdDir };
  });
}

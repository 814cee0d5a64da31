// What the account and host-file steps do on the host, and how each is undone: through the
// narrow Accounts and HostFiles interfaces, so the same executors run on fakes in unit tests.
import { RaptorError } from '../core/errors.ts';
import { type Account, type Accounts, type AuthorizedKeysFile } from '../access/accounts.ts';
import { recordedEntry, withEntry, withoutUser, type AccountRecordEntry } from '../access/account-record.ts';
import { AUTHORIZED_KEYS_MODE, mergeAuthorizedKeys, SSH_DIR_MODE } from '../access/ssh-keys.ts';
import type { HostFiles } from '../host/host-files.ts';
import type { StepExecutor } from './apply.ts';
import type { AccountStep, AccountStepKind } from './account-steps.ts';

export interface AccountExecutorDeps {
  accounts: Accounts;
  files: HostFiles;
}

export type AccountExecutors = { [K in AccountStepKind]: StepExecutor<Extract<AccountStep, { kind: K }>> };

async function mustExist(accounts: Accounts, user: string): Promise<Account> {
  const acct = await accounts.user(user);
  if (!acct) throw new RaptorError('unexpected', `getent passwd ${user} finds no account`);
  return acct;
}

export function accountExecutors({ accounts, files }: AccountExecutorDeps): AccountExecutors {
  // what each apply found, for its undo: only what this run changed is put back
  const made = new Map<string, number>();
  const priorEntry = new Map<string, AccountRecordEntry | undefined>();
  const priorKeys = new Map<string, { account: Account; before: AuthorizedKeysFile }>();
  const priorFiles = new Map<string, { text: string; mode: number } | undefined>();
  return {
    'group-create': {
      apply: (s) => accounts.createGroup(s.group),
      undo: (s) => accounts.removeGroup(s.group),
    },
    'account-create': {
      apply: async (s) => {
        await accounts.createUser(s.user, s.group);
        const acct = await mustExist(accounts, s.user).catch((err: unknown) => {
          throw new RaptorError('unexpected', `useradd succeeded but ${(err as Error).message}`);
        });
        made.set(s.user, acct.uid);
        try {
          await accounts.writeRecord(withEntry(await accounts.readRecord(), { user: s.user, uid: acct.uid, how: 'created', at: s.at, by: s.by }));
        } catch (err) {
          // an account raptor cannot remember making must not stay: user remove would refuse it later
          await accounts.removeUser(s.user, !s.keepHome);
          made.delete(s.user);
          throw err;
        }
      },
      undo: async (s) => {
        const uid = made.get(s.user);
        if (uid === undefined) return;
        // only the account this run made: same name, same uid
        const now = await accounts.user(s.user);
        // its home goes with it, unless the directory was there before raptor ran useradd
        if (now?.uid === uid) await accounts.removeUser(s.user, !s.keepHome);
        const record = await accounts.readRecord();
        if (recordedEntry(record, s.user, uid)) await accounts.writeRecord(withoutUser(record, s.user));
      },
    },
    'group-add-member': {
      apply: async (s) => {
        const record = await accounts.readRecord();
        priorEntry.set(s.user, record.accounts.find((e) => e.user === s.user));
        await accounts.writeRecord(withEntry(record, { user: s.user, uid: s.uid, how: 'added', at: s.at, by: s.by }));
        await accounts.addToGroup(s.user, s.group);
      },
      undo: async (s) => {
        if (!priorEntry.has(s.user)) return;
        if ((await accounts.groupsOf(s.user)).includes(s.group)) await accounts.removeFromGroup(s.user, s.group);
        const prior = priorEntry.get(s.user);
        const record = await accounts.readRecord();
        await accounts.writeRecord(prior ? withEntry(record, prior) : withoutUser(record, s.user));
      },
    },
    'keys-install': {
      apply: async (s) => {
        const account = await mustExist(accounts, s.user);
        // read again here, as the user: the account may be minutes old and its skeleton may hold keys
        const before = await accounts.readAuthorizedKeys(account);
        const merged = mergeAuthorizedKeys(before.text ?? '', s.keys);
        priorKeys.set(s.user, { account, before });
        await accounts.writeAuthorizedKeys(account, {
          dirMode: SSH_DIR_MODE,
          fileMode: AUTHORIZED_KEYS_MODE,
          ...(merged.added.length || before.text !== undefined ? { text: merged.text } : {}),
        });
      },
      undo: async (s) => {
        const prior = priorKeys.get(s.user);
        if (!prior) return;
        const { dirMode, fileMode, text } = prior.before;
        await accounts.writeAuthorizedKeys(prior.account, {
          ...(dirMode !== undefined ? { dirMode } : {}),
          ...(fileMode !== undefined ? { fileMode } : {}),
          ...(text !== undefined ? { text } : {}),
        });
      },
    },
    'account-remove': {
      // no undo: a deleted account (and with --purge its home) cannot be brought back as it was
      apply: async (s) => {
        await accounts.removeUser(s.user, s.purge);
        await accounts.writeRecord(withoutUser(await accounts.readRecord(), s.user));
      },
    },
    'host-file-write': {
      apply: async (s) => {
        const text = await files.read(s.path);
        const st = await files.stat(s.path);
        priorFiles.set(s.path, text === undefined ? undefined : { text, mode: st?.mode ?? s.mode });
        await files.write(s.path, s.text, s.mode);
      },
      undo: async (s) => {
        if (!priorFiles.has(s.path)) return;
        const prior = priorFiles.get(s.path);
        if (prior) await files.write(s.path, prior.text, prior.mode);
        else await files.remove(s.path);
      },
    },
  };
}

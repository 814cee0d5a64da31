// What the host's accounts are, as plain values, and the interface the service and the planners
// see them through (pure: the shadow-utils implementation is accounts.ts, the record file's
// reading and writing account-record.ts).

export interface AccountRecordEntry {
  user: string;
  uid: number;
  /** created: raptor ran useradd; added: an existing account joined the user group (--add-existing) */
  how: 'created' | 'added';
  at: string;
  /** the admin behind the command */
  by: string;
}

export interface AccountRecord {
  version: 1;
  accounts: AccountRecordEntry[];
}

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

/** A user's ~/.ssh/authorized_keys as it is: undefined fields are missing. */
export interface AuthorizedKeysFile {
  path: string;
  dirMode?: number;
  fileMode?: number;
  text?: string;
}

/** What to make a user's authorized_keys: undefined removes it (the directory only when empty). */
export interface AuthorizedKeysWant {
  dirMode?: number;
  fileMode?: number;
  text?: string;
}

/** The host's accounts, groups, raptor's account record and users' authorized_keys. */
export interface Accounts {
  user(name: string): Promise<Account | undefined>;
  group(name: string): Promise<Group | undefined>;
  /** every group the user is in (primary and supplementary), by name */
  groupsOf(name: string): Promise<string[]>;
  createGroup(name: string): Promise<void>;
  removeGroup(name: string): Promise<void>;
  /** a login account with a home and bash, in `group` */
  createUser(name: string, group: string): Promise<void>;
  addToGroup(name: string, group: string): Promise<void>;
  removeFromGroup(name: string, group: string): Promise<void>;
  removeUser(name: string, purge: boolean): Promise<void>;
  /** the record of accounts raptor made (refused when others could have written it) */
  readRecord(): Promise<AccountRecord>;
  writeRecord(record: AccountRecord): Promise<void>;
  /** create the record's directory if missing and refuse one others could change */
  prepareRecord(): Promise<void>;
  /** where the record is, for messages and plans */
  readonly recordPath: string;
  /** the user's authorized_keys, read as the user (a FIFO, device or huge file is a conflict) */
  readAuthorizedKeys(account: Account): Promise<AuthorizedKeysFile>;
  writeAuthorizedKeys(account: Account, want: AuthorizedKeysWant): Promise<void>;
}

/** The entry for this account as it is now (same name and uid), if raptor recorded one. */
export const recordedEntry = (record: AccountRecord, user: string, uid: number): AccountRecordEntry | undefined =>
  record.accounts.find((e) => e.user === user && e.uid === uid);

/** The record with `entry` in place of any older entry for the same name. */
export const withEntry = (record: AccountRecord, entry: AccountRecordEntry): AccountRecord => ({
  version: 1,
  accounts: [...record.accounts.filter((e) => e.user !== entry.user), entry],
});

export const withoutUser = (record: AccountRecord, user: string): AccountRecord => ({ version: 1, accounts: record.accounts.filter((e) => e.user !== user) });

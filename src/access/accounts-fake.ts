// In-memory Accounts for unit tests: users, groups, the record and authorized_keys files in maps;
// `failOn` makes one operation throw, to prove what a failure halfway leaves behind.
import { RaptorError } from '../core/errors.ts';
import type { AccountRecord } from './account-record.ts';
import type { Account, Accounts, AuthorizedKeysFile, AuthorizedKeysWant, Group } from './accounts.ts';

type Op = keyof Omit<Accounts, 'recordPath'>;

export class FakeAccounts implements Accounts {
  readonly users = new Map<string, Account>();
  readonly groups = new Map<string, Group>();
  /** path -> the keys file as it is */
  readonly keyFiles = new Map<string, AuthorizedKeysFile>();
  record: AccountRecord = { version: 1, accounts: [] };
  /** every changing call, in order */
  readonly calls: string[] = [];
  failOn: Op | undefined;
  private nextId = 1001;

  constructor(readonly recordPath = '/var/lib/raptor/accounts.json') {}

  addUser(name: string, opts: { uid?: number; groups?: string[] } = {}): Account {
    const uid = opts.uid ?? this.nextId++;
    const acct = { name, uid, gid: uid, home: `/home/${name}`, shell: '/bin/bash' };
    this.users.set(name, acct);
    this.groups.set(name, { name, gid: uid, members: [] });
    for (const g of opts.groups ?? []) this.groups.get(g)?.members.push(name);
    return acct;
  }

  addGroup(name: string, gid = this.nextId++): void {
    this.groups.set(name, { name, gid, members: [] });
  }

  /** The state to compare before and after: nothing of it may change on a refusal. */
  snapshot(): string {
    return JSON.stringify({ u: [...this.users], g: [...this.groups], k: [...this.keyFiles], r: this.record });
  }

  private change(op: Op, what: string): void {
    if (this.failOn === op) throw new RaptorError('unexpected', `injected failure: ${op}`);
    this.calls.push(what);
  }

  async user(name: string) {
    return this.users.get(name);
  }
  async group(name: string) {
    const g = this.groups.get(name);
    return g ? { ...g, members: [...g.members] } : undefined;
  }
  async groupsOf(name: string) {
    if (!this.users.has(name)) throw new RaptorError('unexpected', `id: ${name}: no such user`);
    return [...this.groups.values()].filter((g) => g.name === name || g.members.includes(name)).map((g) => g.name);
  }
  async createGroup(name: string) {
    this.change('createGroup', `groupadd ${name}`);
    this.addGroup(name);
  }
  async removeGroup(name: string) {
    this.change('removeGroup', `groupdel ${name}`);
    this.groups.delete(name);
  }
  async createUser(name: string, group: string) {
    this.change('createUser', `useradd ${name}`);
    this.addUser(name, { groups: [group] });
  }
  async addToGroup(name: string, group: string) {
    this.change('addToGroup', `usermod -aG ${group} ${name}`);
    this.groups.get(group)?.members.push(name);
  }
  async removeFromGroup(name: string, group: string) {
    this.change('removeFromGroup', `gpasswd -d ${name} ${group}`);
    const g = this.groups.get(group);
    if (g) g.members = g.members.filter((m) => m !== name);
  }
  async removeUser(name: string, purge: boolean) {
    this.change('removeUser', `userdel${purge ? ' --remove' : ''} ${name}`);
    const acct = this.users.get(name);
    this.users.delete(name);
    this.groups.delete(name);
    for (const g of this.groups.values()) g.members = g.members.filter((m) => m !== name);
    if (purge && acct) this.keyFiles.delete(`${acct.home}/.ssh/authorized_keys`);
  }
  async readRecord() {
    if (this.failOn === 'readRecord') throw new RaptorError('not-allowed', 'injected failure: readRecord');
    return structuredClone(this.record);
  }
  async writeRecord(record: AccountRecord) {
    this.change('writeRecord', 'write record');
    this.record = structuredClone(record);
  }
  async prepareRecord() {}
  async readAuthorizedKeys(account: Account) {
    const path = `${account.home}/.ssh/authorized_keys`;
    return { ...(this.keyFiles.get(path) ?? { path }) };
  }
  async writeAuthorizedKeys(account: Account, want: AuthorizedKeysWant) {
    const path = `${account.home}/.ssh/authorized_keys`;
    this.change('writeAuthorizedKeys', `write ${path}`);
    if (want.dirMode === undefined) this.keyFiles.delete(path);
    else this.keyFiles.set(path, { path, dirMode: want.dirMode, ...(want.text !== undefined ? { text: want.text, fileMode: want.fileMode ?? 0o600 } : {}) });
  }
}

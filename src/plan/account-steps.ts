// Plan steps for host accounts and host files (user add/remove, host init, the account part of
// vm create): plain data, each with why it is needed, a title and the commands an admin would run.
import type { SshPublicKey } from '../access/ssh-keys.ts';
import { formatAuthorizedKey } from '../access/ssh-keys.ts';

export type AccountStep =
  | { kind: 'group-create'; group: string; why: string }
  /** useradd, then the account record says raptor made it (with the uid it got) */
  /** home: where useradd puts it; keepHome: a directory was there already, so undo leaves it */
  | { kind: 'account-create'; user: string; group: string; record: string; by: string; at: string; home: string; keepHome: boolean; why: string }
  /** --add-existing: the record says raptor added it, then usermod -aG */
  | { kind: 'group-add-member'; user: string; uid: number; group: string; record: string; by: string; at: string; why: string }
  /** keys: the ones to append; fixModes: the mode corrections seen when planning */
  | { kind: 'keys-install'; user: string; path: string; keys: SshPublicKey[]; fixModes: string[]; why: string }
  | { kind: 'account-remove'; user: string; uid: number; purge: boolean; record: string; why: string }
  /** a host file raptor owns the content of (polkit rules) or one setting of (libvirt's access_drivers) */
  | { kind: 'host-file-write'; path: string; what: 'polkit rules' | 'libvirt daemon config'; text: string; mode: number; setting?: string; why: string };

export type AccountStepKind = AccountStep['kind'];

const ACCOUNT_KINDS: ReadonlySet<string> = new Set<AccountStepKind>(['group-create', 'account-create', 'group-add-member', 'keys-install', 'account-remove', 'host-file-write']);

export const isAccountStep = (s: { kind: string }): s is AccountStep => ACCOUNT_KINDS.has(s.kind);

const q = (s: string): string => (/^[A-Za-z0-9_./:@=+~-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
const plural = (n: number, one: string): string => `${n} ${one}${n === 1 ? '' : 's'}`;
const oct = (m: number): string => `0${m.toString(8)}`;

export function accountStepTitle(step: AccountStep): string {
  switch (step.kind) {
    case 'group-create':
      return `create group ${step.group}`;
    case 'account-create':
      return `create account ${step.user} (home directory, bash) in ${step.group} and record it in ${step.record}`;
    case 'group-add-member':
      return `add the existing account ${step.user} (uid ${step.uid}) to ${step.group} and record that in ${step.record}`;
    case 'keys-install': {
      const parts = [];
      if (step.keys.length) parts.push(`install ${plural(step.keys.length, 'SSH key')} into ${step.path}`);
      if (step.fixModes.length) parts.push(`fix ${step.fixModes.join(', ')}`);
      return parts.join('; ');
    }
    case 'account-remove':
      return `delete account ${step.user} (uid ${step.uid})${step.purge ? ' and its home directory' : ' (home directory kept)'} and drop it from ${step.record}`;
    case 'host-file-write':
      return `write the ${step.what} ${step.path}${step.setting ? ` (${step.setting})` : ''}`;
  }
}

export function accountStepCommands(step: AccountStep): string[] {
  switch (step.kind) {
    case 'group-create':
      return [`groupadd -- ${q(step.group)}`];
    case 'account-create':
      return [`useradd --create-home --shell /bin/bash --groups ${q(step.group)} -- ${q(step.user)}`, `# record {"user":"${step.user}","uid":<its uid>,"how":"created"} in ${step.record} (0600, root)`];
    case 'group-add-member':
      return [`# record {"user":"${step.user}","uid":${step.uid},"how":"added"} in ${step.record} (0600, root)`, `usermod --append --groups ${q(step.group)} -- ${q(step.user)}`];
    case 'keys-install':
      // as the user, so nothing under its home makes root write elsewhere
      return [
        `sudo -u ${q(step.user)} sh -c 'umask 077; mkdir -p ~/.ssh; chmod 0700 ~/.ssh; cat >> ~/.ssh/authorized_keys; chmod 0600 ~/.ssh/authorized_keys' <<'EOF'`,
        ...step.keys.map(formatAuthorizedKey),
        'EOF',
      ];
    case 'account-remove':
      return [`userdel ${step.purge ? '--remove ' : ''}-- ${q(step.user)}`, `# drop ${step.user} from ${step.record}`];
    case 'host-file-write':
      return step.what === 'polkit rules'
        ? [`raptor config polkit-rules > ${q(step.path)}.new && chmod ${oct(step.mode)} ${q(step.path)}.new && mv ${q(step.path)}.new ${q(step.path)}`]
        : [`# in ${q(step.path)}: put ${step.setting ?? 'the setting'} in place of any access_drivers line (keep mode ${oct(step.mode)})`];
  }
}

// Append-only audit log: one JSON line per changing command (time, actor, command, plan, result).
// The log and its directory are root's alone (0640 / not writable by others): a non-admin must not
// be able to replace it, fill it, or point it elsewhere with a symlink.
import { closeSync, constants, writeSync } from 'node:fs';
import { userInfo } from 'node:os';
import { openTrusted } from './trusted-files.ts';

export interface AuditEntry {
  command: string;
  plan?: string[];
  result: 'ok' | 'failed' | 'undone';
  error?: string;
  [extra: string]: unknown;
}

/** The human behind the command: SUDO_USER under sudo, else the process's user. */
export function actingUser(): string {
  const sudo = process.env.SUDO_USER;
  let me = 'unknown';
  try {
    me = userInfo().username;
  } catch {
    // no passwd entry for this uid
  }
  return sudo && sudo !== me ? sudo : me;
}

export const AUDIT_MAX_MODE = 0o640;

const openAudit = (path: string, onRepair?: (msg: string) => void): number =>
  openTrusted(path, {
    flags: constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT,
    mode: AUDIT_MAX_MODE,
    maxMode: AUDIT_MAX_MODE,
    dirMode: 0o750,
    what: 'the audit log',
    tighten: true,
    ...(onRepair ? { onRepair } : {}),
  });

/** Check (and create) the audit log before a command changes anything: a refusal then changes nothing. */
export function prepareAuditLog(path: string, onRepair: (msg: string) => void = (m) => process.stderr.write(`raptor: ${m}\n`)): void {
  closeSync(openAudit(path, onRepair));
}

export function appendAudit(path: string, entry: AuditEntry): void {
  const line = JSON.stringify({ time: new Date().toISOString(), user: actingUser(), uid: process.getuid?.(), ...entry });
  const fd = openAudit(path);
  try {
    writeSync(fd, line + '\n');
  } finally {
    closeSync(fd);
  }
}

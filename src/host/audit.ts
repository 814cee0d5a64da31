// Append-only audit log: one JSON line per changing command (time, actor, command, plan, result).
// The log and its directory are root's alone (0640 / not writable by others): a non-admin must not
// be able to replace it, fill it, or point it elsewhere with a symlink.
import { closeSync, constants, writeSync } from 'node:fs';
import type { Actor } from '../core/actor.ts';
import { openTrusted } from './trusted-files.ts';

export interface AuditEntry {
  command: string;
  plan?: string[];
  result: 'ok' | 'failed' | 'undone';
  error?: string;
  [extra: string]: unknown;
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

/** One line: when, who (the actor: under sudo the admin behind it, root's uid), how they came, what. */
export function appendAudit(path: string, actor: Actor, entry: AuditEntry): void {
  const line = JSON.stringify({ time: new Date().toISOString(), user: actor.user, uid: actor.uid, via: actor.via, ...entry });
  const fd = openAudit(path);
  try {
    writeSync(fd, line + '\n');
  } finally {
    closeSync(fd);
  }
}

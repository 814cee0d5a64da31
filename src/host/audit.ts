// Append-only audit log: one JSON line per changing command (time, actor, command, plan, result).
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { userInfo } from 'node:os';

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

export function appendAudit(path: string, entry: AuditEntry): void {
  const line = JSON.stringify({ time: new Date().toISOString(), user: actingUser(), uid: process.getuid?.(), ...entry });
  mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
  appendFileSync(path, line + '\n', { mode: 0o640 });
}

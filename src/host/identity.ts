// Actors from the host's account database: the process's own (the CLI) or a named account's (a server).
import { userInfo } from 'node:os';
import type { Actor } from '../core/actor.ts';
import { validateUser } from '../core/naming.ts';
import { notFound } from '../core/errors.ts';
import type { Runner } from './runner.ts';

/** `id -Gn` names every group; a gid without a name is printed as its number (id then exits 1). */
const groupNames = async (run: Runner, user?: string): Promise<string[]> =>
  (await run(['id', '-Gn', ...(user !== undefined ? ['--', user] : [])], { okCodes: [0, 1], timeoutMs: 30_000 })).stdout.trim().split(/\s+/).filter(Boolean);

/**
 * The actor behind this process. Root run through sudo is the act of the admin who ran sudo
 * (SUDO_USER names them; read here and nowhere else); everyone else is who the process runs as,
 * whatever their environment says.
 */
export async function actorFromProcess(run: Runner, env: NodeJS.ProcessEnv = process.env): Promise<Actor> {
  const uid = process.getuid?.() ?? -1;
  const gid = process.getgid?.() ?? -1;
  let user = String(uid);
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry for this uid: the number names it
  }
  const sudo = env.SUDO_USER;
  if (uid === 0 && sudo && sudo !== user) user = sudo;
  return { user, uid, gid, groups: await groupNames(run), via: 'cli' };
}

/** The actor for a named account, as the account database has it (what a server acting for a signed-in user needs). */
export async function actorForUser(run: Runner, user: string, via: Actor['via']): Promise<Actor> {
  validateUser(user);
  const id = async (flag: string) => (await run(['id', flag, '--', user], { okCodes: [0, 1], timeoutMs: 30_000 }));
  const u = await id('-u');
  if (u.code !== 0) throw notFound(`no account ${user}`);
  const g = await id('-g');
  return { user, uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()), groups: await groupNames(run, user), via };
}

// A runner whose commands run as another account, supplementary groups included: polkit judges
// that account, not the process. Node's spawn({uid, gid}) would drop the groups (vm-users among
// them), so util-linux's setpriv sets all three before it execs the command.
import type { Actor } from '../core/actor.ts';
import type { Runner, StreamOpener } from './runner.ts';

const GROUP_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/;

/** The setpriv prefix that makes a command run with exactly these ids. */
export function setprivArgv(ids: Pick<Actor, 'uid' | 'gid' | 'groups'>): string[] {
  if (!Number.isInteger(ids.uid) || ids.uid < 0 || !Number.isInteger(ids.gid) || ids.gid < 0) throw new Error(`run as: bad uid/gid ${ids.uid}/${ids.gid}`);
  const bad = ids.groups.find((g) => !GROUP_RE.test(g));
  if (bad !== undefined) throw new Error(`run as: bad group name ${JSON.stringify(bad)}`);
  return ['setpriv', `--reuid=${ids.uid}`, `--regid=${ids.gid}`, ids.groups.length ? `--groups=${ids.groups.join(',')}` : '--clear-groups', '--'];
}

/** Wrap a runner so every command it runs has the actor's uid, gid and supplementary groups. */
export function runAs(run: Runner, ids: Pick<Actor, 'uid' | 'gid' | 'groups'>): Runner {
  const prefix = setprivArgv(ids);
  return (argv, opts) => run([...prefix, ...argv], opts);
}

/** The same for long-lived children opened as streams (a console): they run as the actor too. */
export function openAs(open: StreamOpener, ids: Pick<Actor, 'uid' | 'gid' | 'groups'>): StreamOpener {
  const prefix = setprivArgv(ids);
  return (argv, opts) => open([...prefix, ...argv], opts);
}

// Sessions, bearer tokens and one-time sign-in links: random secrets, kept only as SHA-256 hashes
// in a root-only file (0600, replaced atomically), so a copy of the store signs no one in.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { RaptorError } from '../core/errors.ts';
import { ensureSafeDir } from '../host/trusted-files.ts';

export const CREDENTIAL_KINDS = ['login', 'session', 'token'] as const;
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];

export interface Credential {
  kind: CredentialKind;
  user: string;
  uid: number;
  created: string;
  expires: string;
}

const storedSchema = z.object({
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  kind: z.enum(CREDENTIAL_KINDS),
  user: z.string(),
  uid: z.number().int().min(0),
  created: z.string(),
  expires: z.string(),
});
const fileSchema = z.object({ version: z.literal(1), credentials: z.array(storedSchema) });

/** Live credentials one account may hold; the oldest go first (a loop of `raptor web token` cannot fill the disk). */
export const MAX_PER_ACCOUNT = 64;
const SECRET_RE = /^rpt_[A-Za-z0-9_-]{43}$/;

export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');
const newSecret = (): string => `rpt_${randomBytes(32).toString('base64url')}`;

export interface CredentialStoreOptions {
  /** the file; undefined keeps credentials in memory only (tests) */
  file?: string;
  now?: () => Date;
}

export class CredentialStore {
  private readonly byHash = new Map<string, Credential>();
  private readonly file: string | undefined;
  private readonly now: () => Date;

  constructor(opts: CredentialStoreOptions = {}) {
    this.file = opts.file;
    this.now = opts.now ?? (() => new Date());
    if (this.file) this.load(this.file);
  }

  /** The store in the state directory, which must be root's alone. */
  static open(stateDir: string, now?: () => Date): CredentialStore {
    ensureSafeDir(stateDir, 0o700, 'the web sign-in store');
    return new CredentialStore({ file: join(stateDir, 'credentials.json'), ...(now ? { now } : {}) });
  }

  private load(file: string): void {
    let text: string;
    try {
      const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        const st = fstatSync(fd);
        if (!st.isFile() || st.uid !== (process.geteuid?.() ?? 0) || (st.mode & 0o077) !== 0) {
          throw new RaptorError('not-allowed', `refusing the web sign-in store ${file}: it must be a regular file of uid ${process.geteuid?.()} with mode 0600`);
        }
        text = readFileSync(fd, 'utf8');
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      doc = undefined;
    }
    const parsed = fileSchema.safeParse(doc);
    if (!parsed.success) throw new RaptorError('unexpected', `the web sign-in store ${file} is damaged: move it away to sign everyone out`);
    for (const { hash, ...c } of parsed.data.credentials) this.byHash.set(hash, c);
    if (this.prune()) this.save();
  }

  private save(): void {
    if (!this.file) return;
    const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const doc = { version: 1, credentials: [...this.byHash].map(([hash, c]) => ({ hash, ...c })) };
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      writeSync(fd, JSON.stringify(doc) + '\n');
      fsyncSync(fd);
    } catch (err) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw err;
    }
    closeSync(fd);
    renameSync(tmp, this.file);
  }

  /** Drop expired entries; true when something went. */
  private prune(): boolean {
    const now = this.now().getTime();
    let dropped = false;
    for (const [h, c] of this.byHash) {
      if (!(Date.parse(c.expires) > now)) {
        this.byHash.delete(h);
        dropped = true;
      }
    }
    return dropped;
  }

  /** A new secret for the account; only its hash is kept. */
  issue(kind: CredentialKind, account: { user: string; uid: number }, ttlS: number): { secret: string; credential: Credential } {
    this.prune();
    const mine = [...this.byHash].filter(([, c]) => c.uid === account.uid).sort((a, b) => a[1].created.localeCompare(b[1].created));
    for (const [h] of mine.slice(0, Math.max(0, mine.length - MAX_PER_ACCOUNT + 1))) this.byHash.delete(h);
    const now = this.now();
    const secret = newSecret();
    const credential: Credential = { kind, user: account.user, uid: account.uid, created: now.toISOString(), expires: new Date(now.getTime() + ttlS * 1000).toISOString() };
    this.byHash.set(hashSecret(secret), credential);
    this.save();
    return { secret, credential };
  }

  /** The live credential for a secret, if it is of one of `kinds`; an expired one is deleted. */
  find(secret: string, kinds: readonly CredentialKind[]): Credential | undefined {
    if (!SECRET_RE.test(secret)) return undefined;
    const h = hashSecret(secret);
    const c = this.byHash.get(h);
    if (!c || !kinds.includes(c.kind)) return undefined;
    if (!(Date.parse(c.expires) > this.now().getTime())) {
      this.byHash.delete(h);
      this.save();
      return undefined;
    }
    return c;
  }

  /** A one-time link: found once, then gone. */
  consumeLogin(secret: string): Credential | undefined {
    const c = this.find(secret, ['login']);
    if (!c) return undefined;
    this.byHash.delete(hashSecret(secret));
    this.save();
    return c;
  }

  revoke(secret: string): void {
    if (this.byHash.delete(hashSecret(secret))) this.save();
  }

  /** Every credential of this uid; the number revoked. */
  revokeUid(uid: number): number {
    let n = 0;
    for (const [h, c] of this.byHash) {
      if (c.uid === uid) {
        this.byHash.delete(h);
        n++;
      }
    }
    if (n) this.save();
    return n;
  }

  /** How many live credentials each kind has (for the server's start line and tests). */
  count(): Record<CredentialKind, number> {
    const out = { login: 0, session: 0, token: 0 };
    for (const c of this.byHash.values()) out[c.kind]++;
    return out;
  }
}

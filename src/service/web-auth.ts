// Signing in to `raptor serve`, both sides, for the front ends: the CLI proves who runs it through
// the spool (the kernel names the file's owner) and gets a credential; the server checks proofs,
// keeps the hashed credentials and looks accounts up in the host's database.
import type { Config } from '../core/config.ts';
import { FileAccountDb, type AccountLookup } from '../host/account-db.ts';
import { CredentialStore } from '../host/credential-store.ts';
import { postToServer } from '../host/serve-client.ts';
import { ensureSpoolDir, redeemProof, removeProof, sweepStaleProofs, writeProof } from '../host/signin-spool.ts';

export { CredentialStore, type Credential, type CredentialKind } from '../host/credential-store.ts';
export type { AccountEntry, AccountLookup } from '../host/account-db.ts';

export type SignInWant = 'login' | 'token' | 'logout-all';

/** `raptor web login|token|logout --all`, as the user: the server's answer (url, token or revoked count). */
export async function requestWebCredential(config: Config, want: SignInWant): Promise<Record<string, unknown>> {
  const proof = writeProof(config.web.spool_dir);
  try {
    return (await postToServer(config, '/api/v1/auth/proof', { file: proof.name, nonce: proof.nonce, want })) as Record<string, unknown>;
  } finally {
    removeProof(proof); // the server deleted it when it read it; a refusal leaves it to us
  }
}

export interface SignInDeps {
  credentials: CredentialStore;
  accounts: AccountLookup;
  /** the uid owning a proof file of the spool */
  redeemProof: (file: string, nonce: string) => { uid: number };
}

/** The server's side, as root: the spool made and checked, the store opened, the account database. */
export function openSignIn(config: Config): SignInDeps {
  ensureSpoolDir(config.web.spool_dir);
  sweepStaleProofs(config.web.spool_dir);
  // proofs of CLIs killed halfway: a tenant cannot fill the spool for good
  setInterval(() => sweepStaleProofs(config.web.spool_dir), 300_000).unref();
  return {
    credentials: CredentialStore.open(config.web.state_dir),
    accounts: new FileAccountDb(),
    redeemProof: (file, nonce) => redeemProof(config.web.spool_dir, file, nonce),
  };
}

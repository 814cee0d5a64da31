import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../core/config.ts';
import { createContext, dnsFor } from './vm.ts';

test('the process-wide DNS client: a failed open is not kept, the next call opens again and that client is kept', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'raptor-dns-'));
  try {
    const keyFile = join(dir, 'tsig.key');
    const config = parseConfigText(`[dns]\nzone = "raptor.test"\nserver = "127.0.0.1"\nport = 5399\ntsig_key_file = "${keyFile}"`, 't');
    const actor = { user: 'root', uid: 0, gid: 0, groups: [], via: 'cli' as const };
    const ctx = createContext(config, 'test', actor, async () => {
      throw new Error('no process may run here');
    });
    // the key file is missing: the first open fails (not found)
    await assert.rejects(dnsFor(ctx), (e: unknown) => e instanceof Error && /tsig\.key/.test(e.message));
    writeFileSync(keyFile, 'key "raptor-test" { algorithm hmac-sha256; secret "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="; };\n', { mode: 0o600 });
    const client = await dnsFor(ctx);
    assert.equal(client.endpoint, '127.0.0.1:5399');
    rmSync(keyFile);
    assert.equal(await dnsFor(ctx), client, 'a client that opened is kept');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

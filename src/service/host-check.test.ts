import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfigReadable, type CheckEnv } from './access.ts';
import { resolveConfig } from '../core/config.ts';
import { configPath, DEFAULT_CONFIG_PATH } from '../cli/common.ts';

type Line = { check: string; ok: boolean; detail: string };

async function configLines(path: string | undefined): Promise<Line[]> {
  const lines: Line[] = [];
  const cfg = resolveConfig({});
  const env = { cfg, access: cfg.access, add: (check: string, ok: boolean, detail: string) => lines.push({ check, ok, detail }), opts: path !== undefined ? { configPath: path } : {} };
  await checkConfigReadable(env as unknown as CheckEnv);
  return lines;
}

test('host check judges the config that the lookup finds, the default /etc/raptor/raptor.toml included', async () => {
  // the lookup host check uses: no flag, no $RAPTOR_CONFIG, the default exists
  const found = configPath(undefined, {}, (p) => p === DEFAULT_CONFIG_PATH);
  assert.equal(found, DEFAULT_CONFIG_PATH);
  const dir = mkdtempSync(join(tmpdir(), 'raptor-cfg-'));
  try {
    const file = join(dir, 'raptor.toml');
    writeFileSync(file, '', { mode: 0o644 });
    chmodSync(file, 0o644);
    assert.deepEqual((await configLines(file)).map((l) => [l.check, l.ok]), [['config readable', true]]);
    chmodSync(file, 0o600);
    const [l] = await configLines(file);
    assert.equal(l?.ok, false);
    assert.match(l!.detail, /mode 0600: vm-users cannot run raptor vm list/);
    assert.deepEqual(await configLines(undefined), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

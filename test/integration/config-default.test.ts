// The default config path (/etc/raptor/raptor.toml) is judged by host check like a named one. The
// file lives only in a private mount namespace (an overlay on /etc), so the host's /etc is untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RAPTOR, SANDBOX_CONFIG, requireSandbox } from './lib/raptor.ts';

// $1 upper, $2 work, $3 the config to copy, $4 its mode, then the command
const IN_NAMESPACE = 'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1,workdir=$2" /etc && mkdir -p /etc/raptor && cp "$3" /etc/raptor/raptor.toml && chmod "$4" /etc/raptor/raptor.toml && shift 4 && exec "$@"';

function hostCheckWithDefaultConfig(mode: string): { check: string; ok: boolean; detail: string }[] {
  const dir = mkdtempSync(join(tmpdir(), 'raptor-etc-'));
  try {
    // the overlay needs its upper and work directories
    mkdirSync(join(dir, 'u'));
    mkdirSync(join(dir, 'w'));
    const env = { ...process.env };
    delete env.RAPTOR_CONFIG;
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', IN_NAMESPACE, 'sh', join(dir, 'u'), join(dir, 'w'), SANDBOX_CONFIG, mode, process.execPath, RAPTOR, '--json', 'host', 'check'], {
      encoding: 'utf8',
      env,
      timeout: 120_000,
    });
    assert.ok(r.status === 0 || r.status === 1, `host check exit ${r.status}: ${r.stderr}`);
    return JSON.parse(r.stdout) as { check: string; ok: boolean; detail: string }[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('host check without --config or $RAPTOR_CONFIG reports "config readable" for /etc/raptor/raptor.toml', { timeout: 300_000 }, () => {
  requireSandbox();
  assert.equal(existsSync('/etc/raptor/raptor.toml'), false, 'this test makes the default config in a namespace of its own');
  const ok = hostCheckWithDefaultConfig('0644').find((l) => l.check === 'config readable');
  assert.ok(ok, 'no "config readable" line for the default config');
  assert.equal(ok.ok, true);
  assert.match(ok.detail, /^\/etc\/raptor\/raptor\.toml mode 0644$/);
  const tight = hostCheckWithDefaultConfig('0600').find((l) => l.check === 'config readable');
  assert.equal(tight?.ok, false);
  assert.match(tight!.detail, /mode 0600: vm-users cannot run raptor vm list/);
  assert.equal(existsSync('/etc/raptor'), false, 'the host\'s /etc stays as it was');
});

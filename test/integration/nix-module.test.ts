// The NixOS package and module, evaluated here with nix-instantiate against the project's stand-ins for
// nixpkgs (test/nix/): every .nix file parses; the settings the module renders pass raptor's own schema;
// the polkit rules it installs are raptor's renderer's; the confinement is the JSON; typos fail evaluation;
// with users.mutableUsers = false the rendered config makes `raptor user add` refuse on this real host.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'smol-toml';
import { parseConfigText } from '../../src/core/config.ts';
import { renderPolkitRules } from '../../src/access/polkit-rules.ts';
import { LIBVIRTD_CONFINEMENT } from '../../src/access/confinement.ts';
import { ACCESS_DRIVERS_LINE, hasPolkitAccessDriver } from '../../src/access/libvirt-conf.ts';
import { RAPTOR, raptor } from './lib/raptor.ts';
import { TEST_KEYS } from './lib/users.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const EVAL = join(ROOT, 'test/nix/eval-module.nix');

interface Made {
  enabled: boolean;
  settings: Record<string, unknown>;
  configFile: string;
  checkCommand: string;
  polkitCommand: string;
  package: { name: string; version: string; installPhase: string; path: string };
  systemPackages: string[];
  libvirtdExtraConfig: string;
  libvirtd: { serviceConfig: Record<string, string>; restartIfChanged?: boolean; restartTriggers?: string[] };
  reap: { service: { serviceConfig: { ExecStart: string; Type: string } } | null; timer: { timerConfig: { OnCalendar: string } } | null };
  serve: { wantedBy: string[]; serviceConfig: { ExecStart: string; StateDirectory: string; StateDirectoryMode: string } } | null;
  groups: string[];
  polkit: boolean;
}

/** nix-instantiate --eval --strict --json of the module for one host; a failed evaluation returns its message. */
function evalModule(host: unknown): { ok: true; made: Made } | { ok: false; error: string } {
  const r = spawnSync('nix-instantiate', ['--store', 'dummy://', '--eval', '--strict', '--json', EVAL, '--argstr', 'configJson', JSON.stringify(host)], { encoding: 'utf8' });
  if (r.status !== 0) return { ok: false, error: r.stderr };
  return { ok: true, made: JSON.parse(r.stdout) as Made };
}
const made = (host: unknown): Made => {
  const r = evalModule(host);
  if (!r.ok) assert.fail(r.error);
  return r.made;
};

// the real host: its zone, its bridges with their addresses, the TSIG key outside the store
const REAL_HOST = {
  services: {
    raptor: {
      enable: true,
      dns: { tsigKeyFile: '/etc/raptor/tsig.key' },
      reap: { enable: true },
      serve: { enable: true },
      settings: {
        domain_type: 'kvm',
        cpus: { reserved: '0-3' },
        dns: { zone: 'raptor.michai.li', server: '127.0.0.1', port: 53, enabled: true, reverse_zones: ['100.51.198.in-addr.arpa'] },
        bridges: [1, 2, 3, 4, 5].map((n) => ({ name: `br-vm${n}`, ipv4: `198.51.100.1${n}`, ipv6: `2001:db8::1${n}` })),
        access: { admin_groups: ['libvirtd', 'wheel'], user_group: 'vm-users' },
      },
    },
  },
  users: { mutableUsers: false },
};

describe('NixOS package and module', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'raptor-nix-'));
  const writeToml = (settings: Record<string, unknown>): string => {
    const path = join(dir, `raptor-${Math.random().toString(36).slice(2)}.toml`);
    writeFileSync(path, stringify(settings));
    return path;
  };
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('every .nix file parses', () => {
    const files = ['nix', 'test/nix'].flatMap((d) => readdirSync(join(ROOT, d)).filter((f) => f.endsWith('.nix')).map((f) => join(ROOT, d, f)));
    assert.ok(files.length >= 5, files.join(' '));
    for (const f of files) execFileSync('nix-instantiate', ['--parse', f], { stdio: ['ignore', 'ignore', 'pipe'] });
  });

  test('the settings it renders pass raptor\'s schema; the polkit rules it installs are the renderer\'s', () => {
    const m = made(REAL_HOST);
    assert.equal(m.enabled, true);
    const tomlPath = writeToml(m.settings);
    const cfg = parseConfigText(readFileSync(tomlPath, 'utf8'), tomlPath);
    assert.equal(cfg.dns.tsig_key_file, '/etc/raptor/tsig.key');
    assert.equal(cfg.dns.zone, 'raptor.michai.li');
    assert.equal(cfg.access.declarative_users, true, 'users.mutableUsers = false reaches raptor');
    assert.deepEqual(cfg.bridges.map((b) => [b.name, b.mac, b.ipv4]), [1, 2, 3, 4, 5].map((n) => [`br-vm${n}`, `52:54:00:00:00:0${n}`, `198.51.100.1${n}`]));
    assert.deepEqual(Object.keys(m.settings).sort(), ['access', 'bridges', 'cpus', 'dns', 'domain_type'], 'only what was set: raptor keeps its own defaults');

    // the build runs the package's raptor on the rendered file: config show (a check), config polkit-rules (the file)
    assert.equal(m.checkCommand, `${m.package.path}/bin/raptor --config ${m.configFile} config show > /dev/null\ncp ${m.configFile} $out\n`);
    assert.equal(m.polkitCommand, `${m.package.path}/bin/raptor --config ${m.configFile} config polkit-rules > $out\n`);
    const built = execFileSync(process.execPath, [RAPTOR, '--config', tomlPath, 'config', 'polkit-rules'], { encoding: 'utf8' });
    assert.equal(built, renderPolkitRules(cfg.access));
    assert.match(built, /var ADMIN_GROUPS = \["libvirtd", "wheel"\];/);
    execFileSync(process.execPath, [RAPTOR, '--config', tomlPath, 'config', 'show'], { stdio: 'ignore' });

    assert.deepEqual(m.groups, ['vm-users']);
    assert.equal(m.polkit, true);
    assert.ok(hasPolkitAccessDriver(m.libvirtdExtraConfig) && m.libvirtdExtraConfig.includes(ACCESS_DRIVERS_LINE));
    assert.deepEqual(m.libvirtd.serviceConfig, JSON.parse(readFileSync(join(ROOT, 'nix/libvirtd-confinement.json'), 'utf8')));
    assert.deepEqual(m.libvirtd.serviceConfig, LIBVIRTD_CONFINEMENT);
    assert.equal(m.libvirtd.restartIfChanged, undefined, 'NixOS keeps its own choice unless restartLibvirtd is set');
    assert.match(m.reap.service!.serviceConfig.ExecStart, /\/bin\/raptor --yes vm reap$/);
    assert.equal(m.reap.timer!.timerConfig.OnCalendar, 'daily');
    assert.match(m.serve!.serviceConfig.ExecStart, /\/bin\/raptor serve$/);
    assert.deepEqual([m.serve!.serviceConfig.StateDirectory, m.serve!.serviceConfig.StateDirectoryMode], ['raptor/web', '0700']);
    assert.deepEqual(m.serve!.wantedBy, ['multi-user.target']);
  });

  test('the package: the bundle run by Node, every tool raptor runs on its PATH', () => {
    const m = made(REAL_HOST);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(m.package.version, pkg.version);
    assert.deepEqual(m.systemPackages, [m.package.name]);
    assert.match(m.package.installPhase, /makeWrapper \/nix\/store\/\w+-nodejs\/bin\/node \$out\/bin\/raptor/);
    assert.match(m.package.installPhase, /--add-flags \$out\/lib\/raptor\/raptor\.mjs/);
    const path = /--prefix PATH : (\S+)/.exec(m.package.installPhase)![1]!.split(':');
    for (const tool of ['libvirt', 'lvm2', 'util-linux', 'qemu-utils', 'shadow', 'coreutils', 'getent', 'dosfstools', 'mtools', 'xorriso']) {
      assert.ok(path.some((p) => p.endsWith(`-${tool}/bin`)), `${tool} on PATH`);
    }
  });

  test('options: reap off, restartLibvirtd on, mutable users', () => {
    const m = made({ services: { raptor: { enable: true, restartLibvirtd: true } }, users: { mutableUsers: true } });
    assert.deepEqual([m.reap.service, m.reap.timer, m.serve], [null, null, null]);
    assert.equal(m.libvirtd.restartIfChanged, true);
    assert.ok(m.libvirtd.restartTriggers!.some((t) => t.includes(ACCESS_DRIVERS_LINE)));
    assert.deepEqual(m.settings, { access: { declarative_users: false } });
    const off = evalModule({ services: { raptor: { enable: false } } });
    assert.ok(off.ok && !off.made.enabled);
  });

  test('typos, wrong types and a TSIG key in the store are evaluation errors', () => {
    const cases: [unknown, RegExp][] = [
      [{ enable: true, settings: { dns: { zon: 'x' } } }, /The option `services\.raptor\.settings\.dns\.zon' does not exist/],
      [{ enable: true, settigns: {} }, /The option `services\.raptor\.settigns' does not exist/],
      [{ enable: true, settings: { domain_type: 'xen' } }, /services\.raptor\.settings\.domain_type' is not of type `one of/],
      [{ enable: true, settings: { dns: { port: '53' } } }, /services\.raptor\.settings\.dns\.port' is not of type `signed integer'/],
      [{ enable: true, settings: { bridges: [{ ipv4: '198.51.100.11' }] } }, /services\.raptor\.settings\.bridges\.\[0\]\.name' is used but not defined/],
      [{ enable: true, dns: { tsigKeyFile: '/nix/store/abc-tsig.key' } }, /services\.raptor\.dns\.tsigKeyFile' is not of type/],
      [{ enable: true, dns: { tsigKeyFile: 'tsig.key' } }, /services\.raptor\.dns\.tsigKeyFile' is not of type/],
      [{ enable: true, settings: { dns: { tsig_key_file: '/nix/store/abc-tsig.key' } } }, /the TSIG key must not be in the world-readable Nix store/],
      [{ enable: true, settings: { access: { polkit_rules_file: '/etc/polkit-1/rules.d/99-x.rules' } } }, /Failed assertions:\n\s*- services\.raptor installs its polkit rules as/],
    ];
    for (const [raptorCfg, re] of cases) {
      const r = evalModule({ services: { raptor: raptorCfg } });
      assert.ok(!r.ok, `${JSON.stringify(raptorCfg)} evaluated`);
      assert.match(r.error, re);
    }
    const noLibvirt = evalModule({ services: { raptor: { enable: true } }, virtualisation: { libvirtd: { enable: false } } });
    assert.ok(!noLibvirt.ok && /needs virtualisation\.libvirtd\.enable = true/.test(noLibvirt.error));
  });

  test('users.mutableUsers = false: raptor user add refuses (exit 5), prints the Nix, makes no account', async () => {
    const config = writeToml(made(REAL_HOST).settings);
    const getent = () => spawnSync('getent', ['passwd', 'zoe']).status;
    assert.notEqual(getent(), 0, 'no account zoe to begin with');
    const r = await raptor(['user', 'add', 'zoe', '--ssh-key', TEST_KEYS.alice], { config });
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stdout, /^# users\.mutableUsers = false \(access\.declarative_users\): accounts are declared/);
    assert.match(r.stdout, /users\.users\.zoe = \{\n\s+isNormalUser = true;\n\s+extraGroups = \[ "vm-users" \];\n\s+openssh\.authorizedKeys\.keys = \[/);
    assert.match(r.stderr, /^raptor: accounts on this host are declared in its NixOS configuration \(users\.mutableUsers = false\): raptor made no account zoe; add the lines above and run nixos-rebuild switch\n$/);
    const j = await raptor(['--json', 'user', 'add', 'zoe'], { config });
    assert.equal(j.code, 5);
    const doc = j.json as { nixos: string; error: { code: string } };
    assert.equal(doc.error.code, 'not-allowed');
    assert.match(doc.nixos, /users\.users\.zoe/);
    assert.notEqual(getent(), 0, 'still no account zoe');
  });
});

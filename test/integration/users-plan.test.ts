// Accounts as planned steps against the real host: every dry run prints the plan and changes
// nothing; a failing step (RAPTOR_FAILPOINT=fail:<kind> makes it throw) undoes the earlier ones,
// for user add and for vm create --ssh-key, whose account steps are part of the create plan.
// Users pia and quinn, VMs quinn-k and pia-k (no names of other tests).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cleanup, dnsAnswers, hostSnapshot, loadTestConfig, raptor } from './lib/raptor.ts';
import { accessConfigPath, accountFiles, ensureBuilt, getent, groupExists, removeAccount, root, TEST_KEYS } from './lib/users.ts';

const USERS = ['pia', 'quinn'];
const VMS = ['quinn-k', 'pia-k'];

interface PlanStep {
  kind: string;
  title: string;
  why?: string;
  commands: string[];
}

describe('accounts as plans', { timeout: 300_000 }, () => {
  let config = '';
  let recordFile = '';
  let createdUserGroup = false;
  const record = (): string | null => (existsSync(recordFile) ? readFileSync(recordFile, 'utf8') : null);

  before(async () => {
    ensureBuilt();
    config = accessConfigPath();
    recordFile = `/run/raptor-sandbox/accounts-plan-${process.pid}.json`;
    // the [access] table is the last one in the sandbox config
    writeFileSync(config, `${readFileSync(config, 'utf8')}accounts_file = "${recordFile}"\n`);
    for (const u of USERS) removeAccount(u);
    cleanup(loadTestConfig(config), VMS);
    createdUserGroup = !groupExists('vm-users');
    const init = await raptor(['host', 'init'], { config });
    assert.equal(init.code, 0, init.stderr);
    // a record with an entry, so "unchanged" compares real content
    const seed = await raptor(['user', 'add', 'pia'], { config });
    assert.equal(seed.code, 0, seed.stderr);
  });

  after(() => {
    cleanup(loadTestConfig(config), VMS);
    for (const u of USERS) removeAccount(u);
    if (createdUserGroup) root(['groupdel', 'vm-users']);
    rmSync(recordFile, { force: true });
    rmSync(config, { force: true });
  });

  test('user add --dry-run prints the plan (why, commands) and changes nothing', async () => {
    const files = accountFiles();
    const rec = record();
    const dry = await raptor(['user', 'add', 'quinn', '--dry-run', '--ssh-key', TEST_KEYS.alice], { config });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /would create account quinn/);
    assert.match(dry.stdout, /^Plan \(dry run, nothing changed\):\n1\. create account quinn \(home directory, bash\) in vm-users and record it in \S+\n\s+why: there is no account quinn;.*\n\s+\$ useradd --create-home --shell \/bin\/bash --groups vm-users -- quinn\n/m);
    assert.match(dry.stdout, /^2\. install 1 SSH key into ~quinn\/\.ssh\/authorized_keys\n/m);
    const json = await raptor(['--json', 'user', 'add', 'quinn', '--dry-run', '--ssh-key', TEST_KEYS.alice], { config });
    assert.equal(json.code, 0, json.stderr);
    const j = json.json as { dryRun: boolean; accountCreated: boolean; keysAdded: unknown[]; plan: PlanStep[] };
    assert.equal(j.dryRun, true);
    assert.equal(j.accountCreated, true);
    assert.equal(j.keysAdded.length, 1);
    assert.deepEqual(j.plan.map((s) => s.kind), ['account-create', 'keys-install']);
    assert.ok(j.plan.every((s) => s.title && s.why && s.commands.length > 0));
    // an existing VM user with the key already: the plan is empty
    const same = await raptor(['--json', 'user', 'add', 'pia', '--dry-run'], { config });
    assert.deepEqual((same.json as { plan: PlanStep[] }).plan, []);
    const rm = await raptor(['--json', 'user', 'remove', 'pia', '--dry-run', '--purge'], { config });
    assert.equal(rm.code, 0, rm.stderr);
    assert.deepEqual((rm.json as { plan: PlanStep[] }).plan.map((s) => s.kind), ['account-remove']);
    const rmText = await raptor(['user', 'remove', 'pia', '--dry-run'], { config });
    assert.match(rmText.stdout, /^1\. delete account pia \(uid \d+\) \(home directory kept\) and drop it from \S+\n\s+why: raptor created pia/m);
    assert.deepEqual(accountFiles(), files, '/etc/passwd, group, shadow, gshadow unchanged');
    assert.equal(record(), rec, 'the account record unchanged');
    assert.equal(getent('passwd', 'quinn'), undefined);
    assert.ok(existsSync('/home/pia'));
  });

  test('user add whose key step fails leaves no account, no home and the record as it was', async () => {
    const files = accountFiles();
    const rec = record();
    const r = await raptor(['user', 'add', 'quinn', '--ssh-key', TEST_KEYS.alice], { config, env: { RAPTOR_FAILPOINT: 'fail:keys-install' } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /injected failure in keys-install .*\(finished steps were undone\)/);
    assert.equal(getent('passwd', 'quinn'), undefined, 'the account raptor made is gone');
    assert.ok(!existsSync('/home/quinn'), 'its home is gone');
    assert.deepEqual(accountFiles(), files);
    assert.equal(record(), rec);
    // a rerun without the failure converges
    const ok = await raptor(['user', 'add', 'quinn', '--ssh-key', TEST_KEYS.alice], { config });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(readFileSync('/home/quinn/.ssh/authorized_keys', 'utf8'), `${TEST_KEYS.alice}\n`);
    assert.equal((await raptor(['user', 'remove', 'quinn', '--purge'], { config })).code, 0);
  });

  test('a real failure: a root-owned /home/quinn makes the key step fail; the account goes, the directory stays', async () => {
    root(['mkdir', '-m', '0755', '/home/quinn']);
    writeFileSync('/home/quinn/KEEP', 'not raptor\'s\n');
    try {
      const files = accountFiles();
      const rec = record();
      const dry = await raptor(['--json', 'user', 'add', 'quinn', '--dry-run', '--ssh-key', TEST_KEYS.alice], { config });
      const create = (dry.json as { plan: PlanStep[] }).plan[0]!;
      assert.match(create.why!, /\/home\/quinn exists already: useradd leaves it as it is, and so does an undo/);
      const r = await raptor(['user', 'add', 'quinn', '--ssh-key', TEST_KEYS.alice], { config });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /cannot create \/home\/quinn\/\.ssh as quinn: EACCES \(finished steps were undone\)/);
      assert.equal(getent('passwd', 'quinn'), undefined, 'no account left behind');
      assert.deepEqual(accountFiles(), files);
      assert.equal(record(), rec);
      assert.equal(readFileSync('/home/quinn/KEEP', 'utf8'), 'not raptor\'s\n', 'the directory that was there stays');
      assert.ok(!existsSync('/home/quinn/.ssh'));
    } finally {
      rmSync('/home/quinn', { recursive: true, force: true });
    }
  });

  test('vm create --dry-run --ssh-key shows the account steps in the plan', async () => {
    const cfg = loadTestConfig(config);
    const snap = hostSnapshot(cfg);
    const files = accountFiles();
    const args = ['vm', 'create', 'quinn-k', '--cpus', '1', '--memory', '64M', '--disk', '64M', '--no-network', '--ssh-key', TEST_KEYS.alice, '--dry-run'];
    const json = await raptor(['--json', ...args], { config });
    assert.equal(json.code, 0, json.stderr);
    const j = json.json as { steps: PlanStep[]; account: { user: string; create: boolean } };
    const kinds = j.steps.map((s) => s.kind);
    assert.ok(kinds.includes('account-create') && kinds.includes('keys-install'), kinds.join(', '));
    assert.ok(kinds.indexOf('account-create') > kinds.indexOf('domain-define'), 'after the VM is defined');
    assert.deepEqual({ user: j.account.user, create: j.account.create }, { user: 'quinn', create: true });
    const text = await raptor(args, { config });
    assert.match(text.stdout, /^\d+\. create account quinn \(home directory, bash\) in vm-users/m);
    assert.match(text.stdout, /\$ useradd --create-home --shell \/bin\/bash --groups vm-users -- quinn/);
    assert.equal(hostSnapshot(cfg), snap);
    assert.deepEqual(accountFiles(), files);
  });

  test('vm create --ssh-key whose key step fails undoes the account and the VM', async () => {
    const cfg = loadTestConfig(config);
    const snap = hostSnapshot(cfg);
    const files = accountFiles();
    const rec = record();
    const r = await raptor(['vm', 'create', 'quinn-k', '--cpus', '1', '--memory', '64M', '--disk', '64M', '--ssh-key', TEST_KEYS.alice], {
      config,
      env: { RAPTOR_FAILPOINT: 'fail:keys-install' },
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /injected failure in keys-install .*\(finished steps were undone\)/);
    assert.equal(hostSnapshot(cfg), snap, 'domain, LV, NVRAM and seed undone');
    assert.deepEqual(dnsAnswers(cfg, `quinn-k.${cfg.dns.zone}`, 'A'), [], 'DNS records undone');
    assert.equal(getent('passwd', 'quinn'), undefined);
    assert.ok(!existsSync('/home/quinn'));
    assert.deepEqual(accountFiles(), files);
    assert.equal(record(), rec);
    const audit = readFileSync(cfg.audit_log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { command: string; result: string; plan: string[] });
    const last = audit.filter((a) => a.command.includes('vm create quinn-k')).at(-1)!;
    assert.equal(last.result, 'undone');
    assert.ok(last.plan.some((p) => p.startsWith('create account quinn')));
  });

  test('vm create --ssh-key: the JSON keeps its account fields; the account exists afterwards', async () => {
    const r = await raptor(['--json', 'vm', 'create', 'pia-k', '--cpus', '1', '--memory', '64M', '--disk', '64M', '--no-network', '--ssh-key', TEST_KEYS.bob], { config });
    assert.equal(r.code, 0, r.stderr);
    const j = r.json as { created: string; account: { user: string; created: boolean; keysAdded: number }; steps: { kind: string; status: string }[] };
    assert.deepEqual(j.account, { user: 'pia', created: false, keysAdded: 1 });
    assert.deepEqual(j.steps.filter((s) => s.kind === 'keys-install').map((s) => s.status), ['done']);
    assert.equal(readFileSync('/home/pia/.ssh/authorized_keys', 'utf8'), `${TEST_KEYS.bob}\n`);
    assert.equal((await raptor(['vm', 'destroy', 'pia-k', '--yes'], { config })).code, 0);
  });

  test('host init --dry-run --json: the plan is empty on a set-up host, one write when the rules are gone', async () => {
    const empty = await raptor(['--json', 'host', 'init', '--dry-run'], { config });
    assert.equal(empty.code, 0, empty.stderr);
    assert.deepEqual((empty.json as { plan: PlanStep[]; changed: boolean }).plan, []);
    const rulesFile = loadTestConfig(config).access.polkit_rules_file;
    const saved = readFileSync(rulesFile, 'utf8');
    rmSync(rulesFile);
    try {
      const dry = await raptor(['--json', 'host', 'init', '--dry-run'], { config });
      const plan = (dry.json as { plan: PlanStep[] }).plan;
      assert.deepEqual(plan.map((s) => s.kind), ['host-file-write']);
      assert.match(plan[0]!.why!, /is missing|missing: polkit decides/);
      assert.ok(!existsSync(rulesFile));
    } finally {
      const restore = await raptor(['host', 'init'], { config });
      assert.equal(restore.code, 0, restore.stderr);
    }
    assert.equal(readFileSync(rulesFile, 'utf8'), saved);
  });
});

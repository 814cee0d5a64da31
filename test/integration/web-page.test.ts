// The console WebSocket and the page against the sandbox: `raptor serve` (the built bundle) as
// root, real accounts signed in through `raptor web login|token` run as them. alice's console of
// her own running VM delivers the guest's bytes (opened as alice: polkit decides), bob cannot open
// it, a forged Origin is refused. Then a real browser (Debian's chromium, driven by playwright-core)
// signs in through the one-time URL, sees only alice's VMs, runs a command on the console; as an
// admin creates a VM through the form (plan first) and destroys it with the typed confirmation.
// RAPTOR_UPDATE_SCREENSHOTS=1 writes the screenshots into docs/screenshots/.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { RAPTOR, SANDBOX_CONFIG, cleanup, lvList, loadTestConfig, raptor, sh, virshNames } from './lib/raptor.ts';
import { asUser, defineTinyDomain, domainState, ensureBuilt, groupExists, raptorAs, removeAccount, removeTinyDomain, root, rootOk, TEST_KEYS, waitFor } from './lib/users.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const USERS = ['alice', 'bob', 'carol'] as const;
const CONSOLE_VM = 'alice-wcon';
const TINY = 'bob-wb';
const MADE = 'alice-wmade';
const DIR = `/run/raptor-sandbox/web-page-${process.pid}`;
const CONFIG = `${DIR}.toml`;
const SHOTS = process.env.RAPTOR_UPDATE_SCREENSHOTS === '1' ? `${ROOT}docs/screenshots` : mkdtempSync(`${tmpdir()}/raptor-shots-`);
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

let port = 0;
let origin = '';
let server: ChildProcess | undefined;
let serverLog = '';

async function startServe(): Promise<void> {
  const child = spawn(process.execPath, [RAPTOR, '--config', CONFIG, 'serve', '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  server = child;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`raptor serve did not start: ${serverLog}`)), 15_000);
    child.stderr!.on('data', (d: Buffer) => {
      serverLog += d.toString();
      if (serverLog.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`raptor serve exited ${code}: ${serverLog}`)));
  });
}

async function stopServe(): Promise<void> {
  const child = server;
  server = undefined;
  if (!child || child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

function tokenOf(user: string): string {
  const r = raptorAs(user, CONFIG, ['--json', 'web', 'token']);
  assert.equal(r.code, 0, `${user}: raptor web token: ${r.stderr}${r.stdout}`);
  return (JSON.parse(r.stdout) as { token: string }).token;
}

function loginUrlOf(user: string): string {
  const r = raptorAs(user, CONFIG, ['--json', 'web', 'login']);
  assert.equal(r.code, 0, `${user}: raptor web login: ${r.stderr}${r.stdout}`);
  const url = (JSON.parse(r.stdout) as { url: string }).url;
  assert.ok(url.startsWith(`${origin}/login/`), url);
  return url;
}

type Upgrade = { status: number; body: string } | { ws: WebSocket; text: () => string };

function openConsole(vm: string, opts: { token: string; origin?: string }): Promise<Upgrade> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/vms/${vm}/console`, { headers: { authorization: `Bearer ${opts.token}` }, origin: opts.origin ?? origin });
  let text = '';
  ws.on('message', (d: Buffer) => (text += d.toString('latin1')));
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_q, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('open', () => resolve({ ws, text: () => text }));
    ws.once('error', reject);
  });
}

/** pids of `virsh … console VM` processes, with the user they run as. */
const consoleProcesses = (vm: string): string[] =>
  sh(['ps', '-eo', 'user:20=,args=']).split('\n').filter((l) => l.includes('virsh') && l.includes(' console ') && l.includes(vm)).map((l) => l.trim());

async function until(what: string, cond: () => boolean | Promise<boolean>, ms: number, every?: () => void): Promise<void> {
  const end = Date.now() + ms;
  let last = 0;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    if (every && Date.now() - last > 5000) {
      every();
      last = Date.now();
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function browserFor(): Promise<{ context: BrowserContext; page: Page; problems: string[]; dir: string }> {
  const dir = mkdtempSync(`${tmpdir()}/raptor-chromium-`);
  const context = await chromium.launchPersistentContext(dir, { executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS, viewport: { width: 1360, height: 860 } });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/401|Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
    if (/Content Security Policy/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
  });
  return { context, page, problems, dir };
}

describe('the console WebSocket and the page on the sandbox', { timeout: 900_000 }, () => {
  let createdWheel = false;
  let createdUserGroup = false;
  const tokens: Record<string, string> = {};
  const browsers: { context: BrowserContext; dir: string }[] = [];

  before(async () => {
    ensureBuilt();
    const config = loadTestConfig(SANDBOX_CONFIG);
    cleanup(config, [CONSOLE_VM, MADE]);
    removeTinyDomain(TINY);
    for (const u of USERS) removeAccount(u);
    port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    mkdirSync(DIR, { recursive: true, mode: 0o755 });
    chmodSync(DIR, 0o755);
    const base = readFileSync(SANDBOX_CONFIG, 'utf8').replace(/^shutdown_timeout_s\s*=.*$/m, 'shutdown_timeout_s = 3');
    writeFileSync(CONFIG, `${base}\n[web]\nlisten = "127.0.0.1:${port}"\nstate_dir = "${DIR}/state"\nspool_dir = "${DIR}/spool"\n`, { mode: 0o644 });
    chmodSync(CONFIG, 0o644);
    createdUserGroup = !groupExists('vm-users');
    const init = await raptor(['host', 'init'], { config: CONFIG });
    assert.equal(init.code, 0, init.stderr);
    if (!groupExists('wheel')) {
      rootOk(['groupadd', 'wheel']);
      createdWheel = true;
    }
    for (const u of ['alice', 'bob'] as const) {
      const r = await raptor(['user', 'add', u, '--ssh-key', TEST_KEYS[u]], { config: CONFIG });
      assert.equal(r.code, 0, r.stderr);
    }
    rootOk(['useradd', '--create-home', '--shell', '/bin/bash', '--groups', 'wheel', 'carol']);
    defineTinyDomain(TINY);
    // alice's VM: the small sandbox guest, booted under TCG to a shell on its VirtIO console
    const image = sh([`${ROOT}scripts/guest-image`, '--out', '/var/cache/raptor/web-console-guest.img']).trim().split('\n').pop()!;
    const made = await raptor(
      ['vm', 'create', CONSOLE_VM, '--cpus', '1', '--memory', '512M', '--disk', '64M', '--image', image, '--no-cloud-init', '--start', '--wait-for', 'raptor-guest: ready', '--timeout', '240'],
      { config: CONFIG },
    );
    assert.equal(made.code, 0, made.stderr);
    await waitFor('the raptor polkit rules to take effect', () => {
      const o = asUser('alice', ['virsh', '-c', 'qemu:///system', 'list', '--all', '--name']);
      return o.code === 0 && o.stdout.includes(CONSOLE_VM) && !o.stdout.includes(TINY);
    });
    await startServe();
    for (const u of USERS) tokens[u] = tokenOf(u);
  });

  after(async () => {
    for (const b of browsers) {
      await b.context.close().catch(() => undefined);
      rmSync(b.dir, { recursive: true, force: true });
    }
    await stopServe();
    const config = loadTestConfig(CONFIG);
    for (const vm of [MADE, CONSOLE_VM]) if (domainState(vm) !== undefined) await raptor(['vm', 'destroy', vm, '--yes'], { config: CONFIG });
    cleanup(config, [MADE, CONSOLE_VM]);
    removeTinyDomain(TINY);
    for (const u of USERS) removeAccount(u);
    if (createdWheel) root(['groupdel', 'wheel']);
    if (createdUserGroup) root(['groupdel', 'vm-users']);
    rmSync(DIR, { recursive: true, force: true });
    rmSync(CONFIG, { force: true });
    if (process.env.RAPTOR_UPDATE_SCREENSHOTS !== '1') rmSync(SHOTS, { recursive: true, force: true });
  });

  test('a forged Origin, a foreign Host or no credentials on the console upgrade: refused, no console opened', async () => {
    const forged = await openConsole(CONSOLE_VM, { token: tokens.alice!, origin: 'https://evil.example' });
    assert.ok('status' in forged);
    assert.equal(forged.status, 403, forged.body);
    assert.match(forged.body, /cross-site WebSocket refused/);
    const rebound = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/vms/${CONSOLE_VM}/console`, { headers: { host: `rebind.example:${port}`, authorization: `Bearer ${tokens.alice}` }, origin: `http://rebind.example:${port}` });
      ws.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => reject(new Error('accepted a foreign Host')));
      ws.once('error', reject);
    });
    assert.equal(rebound, 403);
    const anonymous = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/vms/${CONSOLE_VM}/console`, { origin });
      ws.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
      ws.once('error', reject);
    });
    assert.equal(anonymous, 401);
    assert.deepEqual(consoleProcesses(CONSOLE_VM), []);
  });

  test("alice's console of her running VM: the guest's bytes, opened as alice; bob gets 404", async () => {
    const bob = await openConsole(CONSOLE_VM, { token: tokens.bob! });
    assert.ok('status' in bob);
    assert.equal(bob.status, 404, bob.body);
    assert.deepEqual(JSON.parse(bob.body), { error: { code: 'not-found', exitCode: 4, message: `VM ${CONSOLE_VM} not found` } });
    const got = await openConsole(CONSOLE_VM, { token: tokens.alice! });
    assert.ok('ws' in got, 'status' in got ? `${got.status} ${got.body}` : '');
    try {
      await until('the console banner', () => /Connected to domain/.test(got.text()), 20_000);
      // the process holding the console is alice's, so polkit judged alice
      const procs = consoleProcesses(CONSOLE_VM);
      assert.ok(procs.length > 0 && procs.every((p) => p.startsWith('alice ')), procs.join('\n'));
      // the answer holds a number only the guest computes: an echo of the input would not match
      await until('the guest to answer', () => /raptor-sum=42/.test(got.text()), 90_000, () => got.ws.send(Buffer.from('echo raptor-sum=$((6*7))\r')));
      // a second viewer shares the session and gets the scrollback
      const second = await openConsole(CONSOLE_VM, { token: tokens.carol! });
      assert.ok('ws' in second);
      await until('the scrollback for the second viewer', () => /raptor-sum=42/.test(second.text()), 5000);
      assert.equal(consoleProcesses(CONSOLE_VM).length, 1, 'one console for both viewers');
      second.ws.close();
    } finally {
      got.ws.close();
    }
    // the console ends a short grace after its last viewer left
    await until('the console process to end', () => consoleProcesses(CONSOLE_VM).length === 0, 20_000);
  });

  test('in chromium, alice signs in through the one-time URL, sees only her VMs and uses the console', async () => {
    const b = await browserFor();
    browsers.push(b);
    const { page, problems } = b;
    const url = loginUrlOf('alice');
    await page.goto(url);
    assert.equal(new URL(page.url()).pathname, '/');
    await page.waitForSelector(`tr[data-vm="${CONSOLE_VM}"]`, { timeout: 15_000 });
    assert.equal(await page.locator('#who-user').textContent(), 'alice');
    const names = await page.locator('#vms-body tr').evaluateAll((trs) => trs.map((t) => t.getAttribute('data-vm')));
    assert.deepEqual(names, [CONSOLE_VM], 'alice sees her own VMs only');
    const row = page.locator(`tr[data-vm="${CONSOLE_VM}"]`);
    assert.equal(await row.locator('.c-state').textContent(), 'running');
    assert.match((await row.locator('.c-cpus').textContent()) ?? '', /^1 · \d+/);
    assert.equal(await row.locator('.c-memory').textContent(), '512 MiB');
    assert.equal(await row.locator('.c-disk').textContent(), '64 MiB');
    assert.match((await row.locator('.c-network').textContent()) ?? '', /^br-vm\d/);
    assert.equal(await page.getByRole('button', { name: `Start ${CONSOLE_VM}` }).isDisabled(), true);
    assert.equal(await page.getByRole('button', { name: 'Create' }).count(), 0, 'no admin views for a vm-user');
    await page.screenshot({ path: `${SHOTS}/vm-list-user.png` });
    // the phone-sized layout: the same machine as a card, its buttons reachable
    await page.setViewportSize({ width: 390, height: 800 });
    assert.equal(await page.getByRole('button', { name: `Console ${CONSOLE_VM}` }).isVisible(), true);
    await page.screenshot({ path: `${SHOTS}/vm-list-phone.png` });
    await page.setViewportSize({ width: 1360, height: 860 });
    // the dark scheme follows the system's preference
    await page.emulateMedia({ colorScheme: 'dark' });
    assert.equal(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(11, 14, 19)');
    await page.screenshot({ path: `${SHOTS}/vm-list-dark.png` });
    await page.emulateMedia({ colorScheme: 'light' });
    // the console: keyboard only (focus the button, Enter), then type into the terminal
    await page.getByRole('button', { name: `Console ${CONSOLE_VM}` }).focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('#console-status.ok', { timeout: 20_000 });
    const screen = page.locator('#console-term .xterm-rows');
    await until('the console banner in the terminal', async () => /Connected to domain|raptor-sum|[#$] ?$/m.test((await screen.textContent()) ?? ''), 20_000);
    await until(
      'the guest to answer in the terminal',
      async () => /raptor-sum=49/.test((await screen.textContent()) ?? ''),
      90_000,
      () => void page.keyboard.type('echo raptor-sum=$((7*7))\n').catch(() => undefined),
    );
    await page.screenshot({ path: `${SHOTS}/console.png` });
    // Shift+Esc leaves the terminal for the Close button
    await page.keyboard.press('Shift+Escape');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'console-close');
    await page.keyboard.press('Enter');
    assert.equal(await page.locator('#console').isHidden(), true);
    assert.deepEqual(problems, []);
  });

  test('in chromium, an admin creates a VM through the form (plan first), watches it appear, destroys it with the typed confirmation', async () => {
    const b = await browserFor();
    browsers.push(b);
    const { page, problems } = b;
    await page.goto(loginUrlOf('carol'));
    await page.waitForSelector(`tr[data-vm="${CONSOLE_VM}"]`, { timeout: 15_000 });
    const names = await page.locator('#vms-body tr').evaluateAll((trs) => trs.map((t) => t.getAttribute('data-vm')));
    for (const n of [CONSOLE_VM, TINY]) assert.ok(names.includes(n), `the admin sees ${n}`);
    await page.screenshot({ path: `${SHOTS}/vm-list-admin.png` });
    const before = { domains: virshNames().sort(), lvs: lvList(loadTestConfig(CONFIG)).map((l) => l.name).sort() };
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByLabel('Machine', { exact: true }).fill(MADE);
    await page.getByLabel('vCPUs', { exact: true }).fill('1');
    await page.getByLabel('Memory', { exact: true }).fill('256M');
    await page.getByLabel('Disk', { exact: true }).fill('512M');
    await page.getByLabel('No network').check();
    await page.getByLabel('Start it').uncheck();
    await page.getByRole('button', { name: 'Show plan' }).click();
    await page.waitForSelector('#plan-create', { timeout: 30_000 });
    const xml = (await page.locator('pre.xml').textContent()) ?? '';
    assert.match(xml, new RegExp(`<name>${MADE}</name>`));
    assert.ok((await page.locator('ol.steps li').count()) >= 3);
    // the plan changed nothing
    assert.deepEqual({ domains: virshNames().sort(), lvs: lvList(loadTestConfig(CONFIG)).map((l) => l.name).sort() }, before);
    // a tall window rather than a stitched full-page shot (the sticky bar would land mid-page)
    await page.setViewportSize({ width: 1360, height: 1500 });
    await page.evaluate(() => scrollTo(0, 0));
    await page.screenshot({ path: `${SHOTS}/admin-create-plan.png` });
    await page.setViewportSize({ width: 1360, height: 860 });
    await page.locator('#plan-create').click();
    await page.waitForSelector(`tr[data-vm="${MADE}"]`, { timeout: 120_000 });
    assert.equal(domainState(MADE), 'shut off');
    assert.equal(await page.locator(`tr[data-vm="${MADE}"] .c-state`).textContent(), 'shut off');
    // destroy: the button stays disabled until the name is typed exactly
    await page.getByRole('button', { name: `Destroy ${MADE}` }).click();
    const go = page.locator('#d-go');
    await page.locator('#d-confirm').fill(MADE.slice(0, -1));
    assert.equal(await go.isDisabled(), true);
    await page.locator('#d-confirm').fill(MADE);
    assert.equal(await go.isDisabled(), false);
    await go.click();
    await page.waitForSelector('#d-progress progress', { timeout: 10_000 });
    // the progress as it goes: the zeroing when it is slow enough to be seen, else what was shown last
    const shown: string[] = [];
    let shot = false;
    await until(
      'the destroy to end in the dialog',
      async () => {
        const text = (await page.locator('#d-progress').textContent().catch(() => null)) ?? '';
        if (text && shown.at(-1) !== text) shown.push(text);
        if (!shot && /zeroing/.test(text)) {
          await page.screenshot({ path: `${SHOTS}/destroy-progress.png` });
          shot = true;
        }
        return /^done|failed/.test(text);
      },
      120_000,
    );
    if (!shot) await page.screenshot({ path: `${SHOTS}/destroy-progress.png` });
    assert.equal(shown.at(-1), 'done', shown.join(' | '));
    assert.ok(shown.length >= 2, `progress was shown before the end: ${shown.join(' | ')}`);
    await page.waitForSelector(`tr[data-vm="${MADE}"]`, { state: 'detached', timeout: 120_000 });
    assert.equal(domainState(MADE), undefined);
    assert.ok(!lvList(loadTestConfig(CONFIG)).some((l) => l.name.includes(MADE)), 'the volume is gone');
    // users and host check
    await page.getByRole('button', { name: 'Users' }).click();
    await page.waitForSelector('#users-body table', { timeout: 15_000 });
    const users = await page.locator('#users-body tbody th').allTextContents();
    for (const u of ['alice', 'bob']) assert.ok(users.includes(u), `users lists ${u}: ${users.join(', ')}`);
    await page.getByRole('button', { name: 'Host check' }).click();
    await page.waitForSelector('#host-body ul.checks li', { timeout: 60_000 });
    await page.screenshot({ path: `${SHOTS}/host-check.png` });
    assert.deepEqual(problems, []);
  });
});

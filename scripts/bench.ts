// `npm run bench`: each measure is a ratio of raptor against its baseline, both timed in this run
// on this machine (these machines are noisy: the median of several rounds, interleaved).
import { randomUUID } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createToSsh, formatPhases } from './lib/ssh-ready.ts';
import { benchWeb } from './lib/bench-web.ts';
import { parseConfigText } from '../src/core/config.ts';
import { renderDomainXml } from '../src/libvirt/domain-xml.ts';
import { runCommand } from '../src/host/runner.ts';
import { zeroVolume, writeZeroesMaxBytes } from '../src/storage/wipe.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const RAPTOR = `${ROOT}dist/raptor.mjs`;
const configPath = process.env.RAPTOR_SANDBOX_CONFIG ?? '/run/raptor-sandbox/raptor.toml';
const config = parseConfigText(readFileSync(configPath, 'utf8'), configPath);
const LVM = config.storage.lvm_command;
const VG = config.storage.vg;
const lvm = (...a: string[]) => execFileSync(LVM, a, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const node = process.execPath;

const results: { name: string; ratio: number; target: number }[] = [];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function time(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}
async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function report(name: string, ours: number, base: number, target: number, detail: string) {
  const ratio = ours / base;
  console.log(`  ${name}: raptor ${ours.toFixed(1)} ms, baseline ${base.toFixed(1)} ms ${detail}`);
  results.push({ name, ratio, target });
}

function run(argv: string[]): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
}

function removeLv(name: string) {
  try {
    lvm('lvremove', '-y', `${VG}/${name}`);
  } catch {
    // not there
  }
}

async function benchWipe() {
  const lv = 'bench-wipe';
  removeLv(lv);
  lvm('lvcreate', '-y', '-L', '2g', '-n', lv, VG);
  const dev = `/dev/${VG}/${lv}`;
  const size = 2 * 1024 ** 3;
  try {
    const dd = () => time(() => run(['dd', 'if=/dev/zero', `of=${dev}`, 'bs=4M', `count=${size / (4 * 1024 ** 2)}`, 'oflag=direct', 'status=none']));
    const wipe = (offload: boolean) => timeAsync(() => zeroVolume(runCommand, dev, size, { stepBytes: 256 * 1024 ** 2, offload, verify: 'sample' }));
    const base: number[] = [];
    const off: number[] = [];
    const plain: number[] = [];
    for (let i = 0; i < 3; i++) {
      base.push(dd());
      off.push(await wipe(true));
      plain.push(await wipe(false));
    }
    const wz = writeZeroesMaxBytes(dev);
    report('wipe-2GiB-offload', median(off), median(base), 0.05, `(device write_zeroes_max_bytes=${wz}${wz === 0 ? ': no offload, so this is the zero-write loop' : ''})`);
    report('wipe-2GiB-no-offload', median(plain), median(base), 1.05, '(dd-style direct writes vs dd bs=4M oflag=direct)');
  } finally {
    removeLv(lv);
  }
}

function domainXml(name: string, lvPath: string, cpu: number): string {
  return renderDomainXml({
    name, type: config.domain_type, memoryMiB: 128, vcpuPins: [cpu], emulatorSet: [cpu], machine: config.machine,
    firmware: { code: config.firmware.code, vars: config.firmware.vars, nvram: `${config.nvram_dir}/${name}_VARS.fd` },
    uuid: randomUUID(), disk: { path: lvPath }, seed: null, network: null, console: 'virtio', consoleLog: null, metadata: { owner: name.split('-')[0]!, bridge: null, createdAt: new Date().toISOString() },
  });
}

function undefine(name: string) {
  spawnSync('virsh', ['-c', config.libvirt_uri, 'undefine', '--nvram', name], { stdio: 'ignore' });
}

async function benchCreate() {
  const ours: number[] = [];
  const base: number[] = [];
  const script = '/tmp/raptor-bench-create.sh';
  for (let i = 0; i < 5; i++) {
    const a = `benchc-a${i}`;
    const b = `benchc-b${i}`;
    // baseline: what an admin's script does, the same two commands and nothing else
    writeFileSync(`/tmp/${b}.xml`, domainXml(b, `/dev/${VG}/guest-${b}`, 0));
    // the same work as raptor's: LV, the cloud-init seed (mkfs.vfat + mcopy), define
    writeFileSync(script, `#!/bin/sh\nset -e\n${LVM} lvcreate -y -L 64m -n guest-${b} ${VG} >/dev/null\nprintf 'instance-id: x\\n' >/tmp/${b}.md; printf '#cloud-config\\n' >/tmp/${b}.ud\nrm -f /tmp/${b}.seed; mkfs.vfat -C -n CIDATA /tmp/${b}.seed 1024 >/dev/null\nMTOOLS_SKIP_CHECK=1 mcopy -i /tmp/${b}.seed /tmp/${b}.md /tmp/${b}.ud ::/\nvirsh -q -c ${config.libvirt_uri} define /tmp/${b}.xml >/dev/null\n`);
    base.push(time(() => run(['sh', script])));
    ours.push(time(() => run([node, RAPTOR, '--config', configPath, 'vm', 'create', a, '--cpus', '1', '--memory', '128M', '--disk', '64M', '--no-network'])));
    for (const n of [a, b]) {
      undefine(n);
      removeLv(`guest-${n}`);
      rmSync(`${config.seed_dir}/${n}-cidata.img`, { force: true });
      rmSync(`/tmp/${n}.seed`, { force: true });
    }
  }
  report('vm-create', median(ours), median(base), 1.05, '(vm create --no-network vs lvcreate + seed (mkfs.vfat, mcopy) + virsh define in a shell script)');
}

async function benchList() {
  const names = Array.from({ length: 50 }, (_, i) => `benchl-d${String(i).padStart(2, '0')}`);
  for (const n of names) {
    writeFileSync(`/tmp/${n}.xml`, domainXml(n, `/dev/${VG}/guest-${n}`, 0));
    run(['virsh', '-q', '-c', config.libvirt_uri, 'define', `/tmp/${n}.xml`]);
  }
  try {
    const ours: number[] = [];
    const base: number[] = [];
    for (let i = 0; i < 7; i++) {
      base.push(time(() => run(['virsh', '-c', config.libvirt_uri, 'list', '--all'])));
      ours.push(time(() => run([node, RAPTOR, '--config', configPath, 'vm', 'list', '--json'])));
    }
    const out = JSON.parse(execFileSync(node, [RAPTOR, '--config', configPath, 'vm', 'list', '--json'], { encoding: 'utf8' })) as unknown[];
    report('vm-list-50', median(ours), median(base), 3, `(vm list --json over ${out.length} domains vs virsh list --all)`);
  } finally {
    for (const n of names) undefine(n);
  }
}

function benchVersion() {
  const ours: number[] = [];
  const base: number[] = [];
  for (let i = 0; i < 21; i++) {
    base.push(time(() => run([node, '-e', '0'])));
    ours.push(time(() => run([node, RAPTOR, '--version'])));
  }
  report('version', median(ours), median(base), 1.5, '(raptor --version vs node -e 0)');
}

// The trial that first booted this guest by hand: virsh start to the first ssh hostname.
const TRIAL_SSH_READY_MS = 37_000;

async function benchSshReady() {
  const vm = 'benchs-deb';
  const key = '/run/raptor-sandbox/bench-ssh-key';
  if (!existsSync(key)) run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'bench', '-f', key]);
  const img = spawnSync(`${ROOT}scripts/guest-image`, ['debian'], { encoding: 'utf8' });
  if (img.status !== 0) throw new Error(`scripts/guest-image debian failed: ${img.stderr.slice(-500)}`);
  try {
    const r = await createToSsh({
      raptorArgv: [node, RAPTOR, '--config', configPath],
      config,
      vm,
      user: 'benchs',
      keyFile: key,
      createArgs: ['--image', 'debian-12', '--flavor', 'small', '--cpus', '2', '--ssh-key', `${key}.pub`],
    });
    if (r.hostname !== vm) throw new Error(`the guest says it is ${r.hostname}`);
    report('ssh-ready-debian', r.totalS * 1000, TRIAL_SSH_READY_MS, 1.0, `(vm create -> first ssh on debian-12, vs the hand-run trial's 37 s from virsh start; ${formatPhases(r)})`);
  } finally {
    spawnSync(node, [RAPTOR, '--config', configPath, 'vm', 'destroy', vm, '--yes'], { stdio: 'ignore' });
    spawnSync(node, [RAPTOR, '--config', configPath, 'user', 'remove', 'benchs', '--purge'], { stdio: 'ignore' });
  }
}

async function benchServe() {
  const r = await benchWeb({
    node,
    raptor: RAPTOR,
    root: ROOT,
    configPath,
    defineDomain: (n) => {
      writeFileSync(`/tmp/${n}.xml`, domainXml(n, `/dev/${VG}/guest-${n}`, 0));
      run(['virsh', '-q', '-c', config.libvirt_uri, 'define', `/tmp/${n}.xml`]);
    },
    undefine,
  });
  console.log(`  web load, 30 s: ${r.listRequests} GET /api/v1/vms from 50 clients over ${r.domains} domains, ${r.listErrors} errors, p50 ${r.listP50.toFixed(0)} ms, p99 ${r.listP99.toFixed(0)} ms`);
  console.log(`  web consoles, 30 s: 10 viewers, ${r.consoleRoundTrips} commands answered by the guests, ${r.consoleErrors} errors, p50 ${r.consoleP50.toFixed(0)} ms, p99 ${r.consoleP99.toFixed(0)} ms`);
  if (r.listErrors || r.consoleErrors) console.log('  web load: ERRORS (target 0)');
  report('web-vm-list', r.apiMs, r.cliMs, 1.0, `(GET /api/v1/vms vs raptor vm list --json, one client, ${r.domains} domains)`);
  results.push({ name: 'web-load-errors', ratio: r.listErrors + r.consoleErrors, target: 0 });
}

const which = process.argv.slice(2);
const want = (n: string) => which.length === 0 || which.includes(n);
if (want('version')) benchVersion();
if (want('list')) await benchList();
if (want('create')) await benchCreate();
if (want('wipe')) await benchWipe();
if (want('ssh')) await benchSshReady();
if (want('web')) await benchServe();
for (const r of results) console.log(`bench ${r.name}: ratio ${r.ratio.toFixed(3)} (target ${r.target})${r.ratio <= r.target ? '' : ' MISSED'}`);

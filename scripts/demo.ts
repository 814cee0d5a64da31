// `npm run demo`: the main job end to end on a sandbox host. A user account, a Secure Boot VM
// from a Debian-signed image on its own LV, its DHCP address and DNS names, what its owner sees,
// and its destruction with the wipe; then a Debian cloud guest its owner logs into over SSH by
// its DNS name, timed from vm create. Every claim is checked; the last line says ok or where it failed.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { parseConfigText } from '../src/core/config.ts';
import { createToSsh, formatPhases } from './lib/ssh-ready.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const RAPTOR = `${ROOT}dist/raptor.mjs`;
const keep = process.argv.includes('--keep');
const VM = 'alice-demo';
const DEB = 'alice-deb';
const t0 = Date.now();
const secs = () => ((Date.now() - t0) / 1000).toFixed(1);
let step = 'start';

class DemoFailure extends Error {}
function check(cond: unknown, what: string): asserts cond {
  if (!cond) throw new DemoFailure(what);
}

function section(name: string) {
  step = name;
  console.log(`\n== [${secs()} s] ${name}`);
}

function sh(argv: string[], opts: { input?: string; allowFail?: boolean; env?: NodeJS.ProcessEnv } = {}): { code: number; out: string; err: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', input: opts.input ?? '', env: opts.env ?? process.env });
  const res = { code: r.status ?? 1, out: r.stdout ?? '', err: r.stderr ?? '' };
  if (res.code !== 0 && !opts.allowFail) throw new DemoFailure(`${argv.join(' ')} exited ${res.code}: ${res.err.trim().split('\n').slice(-3).join(' | ')}`);
  return res;
}

let configPath = '';
const raptor = (args: string[], opts: { allowFail?: boolean } = {}) => sh([process.execPath, RAPTOR, '--config', configPath, ...args], opts);
const show = (text: string) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);

async function main() {
  section('sandbox host up (libvirtd + polkit, LVM, bridges + DHCP, BIND)');
  configPath = sh([`${ROOT}scripts/sandbox`, 'up']).out.trim().split('\n').pop()!;
  const config = parseConfigText(readFileSync(configPath, 'utf8'), configPath);
  show(`config: ${configPath}`);

  section('guest image (Debian-signed shim -> grub -> kernel, busybox initramfs)');
  const image = sh([`${ROOT}scripts/guest-image`]).out.trim().split('\n').pop()!;
  check(existsSync(image), `guest image ${image} missing`);
  show(`image: ${image}`);
  check(config.images.find((i) => i.name === 'busybox-demo')?.path === image, `the config's image busybox-demo is not ${image}`);

  section('host init: polkit rules and libvirt ACL');
  show(raptor(['host', 'init']).out);

  section('user add alice with an SSH key');
  const keyFile = '/run/raptor-sandbox/demo-alice-key';
  if (!existsSync(`${keyFile}.pub`)) sh(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'alice@demo', '-f', keyFile]);
  show(raptor(['user', 'add', 'alice', '--ssh-key', `${keyFile}.pub`]).out);

  // a previous demo run with --keep, or one that failed, may have left the VM: start clean
  for (const vm of [VM, DEB]) if (raptor(['vm', 'show', vm], { allowFail: true }).code === 0) raptor(['vm', 'destroy', vm, '--yes']);

  section(`plan for ${VM}`);
  const createArgs = ['vm', 'create', VM, '--cpus', '1', '--memory', '512M', '--disk', '1G', '--image', 'busybox-demo', '--start'];
  const plan = raptor([...createArgs, '--dry-run']).out;
  show(plan.slice(0, plan.indexOf('\nDomain XML:')));

  section(`vm create ${VM} --start --wait-for "raptor-guest: ready"`);
  const created = JSON.parse(raptor([...createArgs, '--wait-for', 'raptor-guest: ready', '--timeout', '240', '--json']).out) as {
    steps: { kind: string; ms: number }[];
    createdMs: number;
    console: { lines: { ms: number; text: string }[] };
  };
  for (const s of created.steps) show(`  ${s.kind.padEnd(16)} ${String(s.ms).padStart(6)} ms`);
  const lines = created.console.lines;
  const at = (re: RegExp) => lines.find((l) => re.test(l.text));
  const init = at(/raptor-guest: init uptime=/);
  const dhcp = at(/raptor-guest: dhcp ipv4=/);
  const ready = at(/raptor-guest: ready/);
  check(init && dhcp && ready, 'the guest did not report init, DHCP and ready on its console');
  const startMs = created.steps.find((s) => s.kind === 'domain-start')?.ms ?? 0;
  const ownMs = created.steps.filter((s) => s.kind !== 'domain-start').reduce((a, s) => a + s.ms, 0);
  const uptimeMs = Number(/uptime=([\d.]+)/.exec(init.text)![1]) * 1000;
  const kernelStart = Math.max(0, init.ms - uptimeMs);
  show(`time to the DHCP lease: ${((created.createdMs + dhcp.ms) / 1000).toFixed(1)} s after vm create began`);
  show(`  raptor's own work ${(ownMs / 1000).toFixed(2)} s | libvirt start ${(startMs / 1000).toFixed(2)} s | firmware+shim+grub ${(kernelStart / 1000).toFixed(1)} s | kernel to init ${(uptimeMs / 1000).toFixed(1)} s | modules+DHCP ${((dhcp.ms - init.ms) / 1000).toFixed(1)} s`);

  section('vm show');
  show(raptor(['vm', 'show', VM]).out);
  const info = JSON.parse(raptor(['vm', 'show', VM, '--json']).out) as { network: { bridge: string; ipv4: string; ipv6: string }; fqdn: string; state: string };
  check(info.state === 'running', `state is ${info.state}`);

  section('Secure Boot, from the guest console');
  const log = raptor(['vm', 'console', VM, '--log']).out;
  // kernel messages share hvc0 with init and may land mid-line: show init's part only
  for (const l of log.split('\n').filter((x) => /raptor-guest: .*(secureboot|lockdown)/.test(x))) show(`  ${l.replace(/\[\s*\d+\.\d+\].*$/, '').trim()}`);
  check(/raptor-guest: secureboot=enabled/.test(log), 'the guest did not report secureboot=enabled');
  check(/Secure boot enabled/.test(log), 'the kernel did not report "Secure boot enabled"');

  section('DHCP address vs the bridge address in the config');
  const got = /dhcp ipv4=(\S+)/.exec(dhcp.text)![1];
  const bridge = config.bridges.find((b) => b.name === info.network.bridge)!;
  show(`  ${info.network.bridge}: configured ${bridge.ipv4}, guest got ${got}`);
  check(got === bridge.ipv4, `guest got ${got}, bridge ${bridge.name} is configured with ${bridge.ipv4}`);

  section('DNS answers (dig @server)');
  const dig = (...q: string[]) => sh(['dig', `@${config.dns.server}`, '-p', String(config.dns.port), '+short', ...q]).out.trim();
  const a = dig(info.fqdn, 'A');
  const aaaa = dig(info.fqdn, 'AAAA');
  const ptr4 = dig('-x', bridge.ipv4!);
  const ptr6 = dig('-x', bridge.ipv6!);
  show(`  ${info.fqdn} A ${a}\n  ${info.fqdn} AAAA ${aaaa}\n  PTR ${bridge.ipv4} -> ${ptr4}\n  PTR ${bridge.ipv6} -> ${ptr6}`);
  check(a === bridge.ipv4 && aaaa === bridge.ipv6, 'A/AAAA do not match the bridge addresses');
  check(ptr4 === `${info.fqdn}.` && ptr6 === `${info.fqdn}.`, 'PTRs do not name the VM');

  section('what alice sees, as herself');
  const asAlice = (argv: string[]) => sh(['runuser', '-u', 'alice', '--', ...argv], { allowFail: true });
  const list = asAlice(['virsh', '-c', 'qemu:///system', 'list', '--all', '--name']);
  show(`  alice$ virsh list --all --name\n${list.out.trim().split('\n').map((l) => `    ${l}`).join('\n')}`);
  const names = list.out.split('\n').map((s) => s.trim()).filter(Boolean);
  check(list.code === 0 && names.includes(VM) && names.every((n) => n.startsWith('alice-')), `alice sees ${names.join(', ') || 'nothing'} (exit ${list.code}: ${list.err.trim()})`);
  const denied = asAlice(['virsh', '-c', 'qemu:///system', 'setmem', VM, '256M', '--live']);
  show(`  alice$ virsh setmem ${VM} 256M -> ${denied.code === 0 ? 'allowed' : 'denied'}`);
  check(denied.code !== 0, 'alice may not manage (setmem) her own VM');

  const destroy = (vm: string, fqdn: string, seed?: string) => {
    section(`vm destroy ${vm} (DNS, undefine, stop, ${seed ? 'seed, ' : ''}wipe, lvremove)`);
    const d = spawnSync(process.execPath, [RAPTOR, '--config', configPath, 'vm', 'destroy', vm, '--yes'], { stdio: ['ignore', 'inherit', 'inherit'] });
    check(d.status === 0, `vm destroy exited ${d.status}`);
    check(!execFileSync('virsh', ['-c', 'qemu:///system', 'list', '--all', '--name'], { encoding: 'utf8' }).includes(vm), 'domain still defined');
    check(dig(fqdn, 'A') === '', 'A record still there');
    if (seed) check(!existsSync(seed), `seed ${seed} still there`);
  };
  if (keep) console.log(`\n${VM} is left running (--keep): raptor vm console ${VM} / raptor vm destroy ${VM} --yes`);
  else destroy(VM, info.fqdn);

  section('Debian 12 cloud guest image (mmdebstrap from Debian packages; cached by recipe)');
  const debImage = sh([`${ROOT}scripts/guest-image`, 'debian']).out.trim().split('\n').pop()!;
  check(existsSync(debImage), `Debian image ${debImage} missing`);
  check(config.images.find((i) => i.name === 'debian-12')?.path === debImage, `the config's image debian-12 is not ${debImage}`);
  show(raptor(['image', 'list']).out);

  section(`vm create ${DEB} --image debian-12 --flavor small --ssh-key (cloud-init seed) --start, then ssh by its DNS name`);
  const deb = await createToSsh({
    raptorArgv: [process.execPath, RAPTOR, '--config', configPath],
    config,
    vm: DEB,
    user: 'alice',
    keyFile,
    createArgs: ['--image', 'debian-12', '--flavor', 'small', '--cpus', '2', '--ssh-key', `${keyFile}.pub`],
  });
  show(`  alice$ ssh alice@${deb.fqdn} hostname   (${deb.fqdn} -> ${deb.addr} from the sandbox DNS)\n    ${deb.hostname}`);
  check(deb.hostname === DEB, `the guest calls itself ${deb.hostname}, not ${DEB}`);
  show(`time to SSH: ${deb.totalS.toFixed(1)} s after vm create began`);
  show(`  ${formatPhases(deb)}`);

  section('what the Debian guest says about itself, over SSH');
  const facts = deb.ssh('echo "hostname: $(hostname)"; echo "secure boot: $(sudo dmesg | grep -o "Secure boot enabled" | head -n1)"; echo "kernel consoles: $(cat /sys/class/tty/console/active)"; echo "console getty: serial-getty@hvc0 $(systemctl is-active serial-getty@hvc0.service)"; echo "cmdline: $(cat /proc/cmdline)"');
  check(facts.code === 0, `ssh failed: ${facts.err.trim()}`);
  for (const l of facts.out.trim().split('\n')) show(`  ${l}`);
  check(/secure boot: Secure boot enabled/.test(facts.out), 'the guest kernel did not say "Secure boot enabled"');
  check(/kernel consoles: .*hvc0/.test(facts.out) && /serial-getty@hvc0 active/.test(facts.out), 'the guest does not use hvc0 as its console');
  const seedPath = `${config.seed_dir}/${DEB}-cidata.img`;
  if (keep) console.log(`\n${DEB} is left running (--keep): ssh via ip netns exec raptor-dhcp ssh -i ${keyFile} alice@${deb.addr}`);
  else destroy(DEB, deb.fqdn, seedPath);
  console.log(`\ndemo: ok in ${secs()} s`);
}

main().catch((err: unknown) => {
  console.error(`\n${err instanceof Error ? err.message : String(err)}`);
  console.log(`demo: failed at ${step}`);
  process.exitCode = 1;
});

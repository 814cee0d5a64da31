// `raptor vm create|destroy|list|show|start|stop|reboot|console`: flags into service requests, results into output.
import { Command, Option } from 'commander';
import { createInterface } from 'node:readline/promises';
import { badInput } from '../core/errors.ts';
import { domainName, parseVmId, validateUser } from '../core/naming.ts';
import { escapeControls, quoteInput } from '../core/quote.ts';
import { formatSize, parseSize } from '../core/size.ts';
import { formatCpuList } from '../core/cpus.ts';
import { planJson, printSteps } from './plan-output.ts';
import { accountJson, allocationOf } from '../service/plan-json.ts';
import {
  attachConsole,
  createVm,
  destroyVm,
  readConsoleLog,
  waitForConsole,
  listVms,
  planVmCreate,
  planVmDestroy,
  rebootVm,
  requireDomain,
  showVm,
  startVm,
  stopVm,
  type VmInfo,
} from '../service/vm.ts';
import { readUserDataFile } from '../service/images.ts';
import { newVmRequest } from '../service/vm-request.ts';
import { printJson, progressPrinter, table } from './output.ts';
import { parseRequest, PowerRequest, type PowerResult } from '../service/schemas.ts';
import { ctxFor, g } from './common.ts';
import { expiresCell } from './commands-lab.ts';
import { expiryWarning, isExpired } from '../core/expiry.ts';
import { pendingOf } from '../service/lab.ts';
import { describeAccount, readSshKeyArgs } from '../service/access.ts';


/** Longest `--wait-for` wait: a day. */
const MAX_WAIT_S = 86_400;

function parseCount(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 4096) {
    throw badInput(`invalid CPU count ${quoteInput(v)}: must be a whole number from 1 to 4096`);
  }
  return Number(v);
}

const log = (msg: string) => process.stderr.write(msg + '\n');

function vmRow(v: VmInfo): string[] {
  return [
    v.name,
    v.managed ? (v.user ?? '') : '(unmanaged)',
    v.state,
    String(v.vcpus),
    formatCpuList(v.cpuset) || '-',
    `${v.memoryMiB} MiB`,
    v.disk?.sizeBytes != null ? formatSize(v.disk.sizeBytes) : '-',
    v.network ? `${v.network.bridge} ${v.network.ipv4 ?? ''}`.trim() : '-',
    expiresCell(v.expires),
  ];
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(question);
    return /^(y|yes)$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export function registerVmCommands(program: Command): void {
  const vm = program.command('vm').description('virtual machines');
  vm.command('create')
    .description('create a VM: logical volume, libvirt domain, (optionally) start it')
    .argument('<USER-NAME>', 'VM id, e.g. alice-web')
    .option('--cpus <n>', 'number of vCPUs, each pinned to a host CPU of its own')
    .option('--memory <size>', 'memory, e.g. 2G')
    .option('--disk <size>', 'disk size, e.g. 20G')
    .option('--flavor <name>', 'take --cpus, --memory and --disk from this [[flavors]] entry where not given')
    .option('--bridge <br>', 'bridge to attach (default: lowest free)')
    .option('--no-network', 'no network interface')
    .option('--start', 'start the VM after creating it')
    .option('--image <name|file>', 'write this [[images]] entry (or, for admins, a raw or qcow2 file) onto the new volume')
    .option('--ssh-key <key|file>', "the owner's SSH public key: for the guest's account (cloud-init) and the host account (repeatable)", (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--user-data <file>', 'an admin\'s own #cloud-config, merged into the seed raptor writes')
    .option('--no-cloud-init', 'no cloud-init seed for this VM')
    .option('--add-existing', 'with --ssh-key: the owner is an existing account outside the user group; add it (a privilege change)')
    .option('--force', "replace DNS data at the VM's names that raptor did not write")
    .option('--expires <when>', 'when raptor vm reap destroys it: a date (2027-03-01), a UTC time, or a duration (90d, 12h)')
    .option('--ignore-quota', "go past the owner's quota (recorded in the audit log)")
    .option('--wait-for <regex>', 'with --start: wait until a console line matches')
    .option('--timeout <s>', 'seconds --wait-for waits', '300')
    .option('--dry-run', 'print the plan, change nothing')
    .action(async (id: string, o: Record<string, unknown>, cmd: Command) => {
      const vmId = parseVmId(id);
      let waitFor: RegExp | undefined;
      if (o.waitFor !== undefined) {
        if (!o.start) throw badInput('--wait-for needs --start');
        try {
          waitFor = new RegExp(String(o.waitFor));
        } catch (err) {
          throw badInput(`invalid --wait-for regex ${quoteInput(String(o.waitFor))}: ${(err as Error).message.replace(/^.*: /, '')}`);
        }
      }
      const timeoutS = Number(o.timeout);
      if (!/^\d+(\.\d+)?$/.test(String(o.timeout)) || timeoutS <= 0 || timeoutS > MAX_WAIT_S) {
        throw badInput(`invalid --timeout ${quoteInput(String(o.timeout))}: a number of seconds from above 0 to ${MAX_WAIT_S}`);
      }
      const ctx = ctxFor(cmd);
      // the flags as a request (the API's body has the same fields); the service does the rest
      const request: Parameters<typeof newVmRequest>[2] = {
        ...(o.flavor !== undefined ? { flavor: String(o.flavor) } : {}),
        ...(o.cpus !== undefined ? { cpus: parseCount(String(o.cpus)) } : {}),
        ...(o.memory !== undefined ? { memory: String(o.memory) } : {}),
        ...(o.disk !== undefined ? { disk: String(o.disk) } : {}),
        ...(o.bridge !== undefined ? { bridge: String(o.bridge) } : {}),
        ...(o.network === false ? { network: false as const } : {}),
        ...(o.image !== undefined ? { image: String(o.image) } : {}),
        ...(o.expires !== undefined ? { expires: String(o.expires) } : {}),
        start: Boolean(o.start),
        force: Boolean(o.force),
        ignoreQuota: Boolean(o.ignoreQuota),
        cloudInit: o.cloudInit !== false,
        addExisting: Boolean(o.addExisting),
      };
      const sshKeys = readSshKeyArgs(o.sshKey as string[]);
      if (o.cloudInit === false && o.userData !== undefined) throw badInput('--user-data and --no-cloud-init cannot be used together');
      const userData = o.userData !== undefined ? readUserDataFile(String(o.userData)) : undefined;
      const req = await newVmRequest(ctx, vmId, request, { sshKeys, ...(userData !== undefined ? { userData } : {}), imagePaths: true });
      const json = Boolean(g(cmd).json);
      const uri = ctx.config.libvirt_uri;
      if (o.dryRun) {
        const plan = await planVmCreate(ctx, req);
        const accountPlan = plan.account?.result;
        if (json) {
          printJson({ dryRun: true, vm: plan.names.domain, allocation: allocationOf(plan), steps: planJson(plan, uri), xml: plan.xml, ...(accountPlan ? { account: accountJson(accountPlan) } : {}) });
        } else {
          process.stdout.write(`Plan for ${plan.names.domain} (dry run, nothing changed):\n`);
          printSteps(plan.steps, uri, (s) => process.stdout.write(s + '\n'));
          const seed = plan.steps.find((s) => s.kind === 'seed-write');
          if (seed?.kind === 'seed-write') process.stdout.write(`\nSeed meta-data:\n${seed.metaData}\nSeed user-data:\n${seed.userData}`);
          if (accountPlan) process.stdout.write(`\nAccount ${vmId.user} (after the VM is made):\n${(accountPlan.nixos ? [accountPlan.nixos] : describeAccount(accountPlan)).map((l) => `   ${l}`).join('\n') || '   nothing to change'}\n`);
          process.stdout.write(`\nDomain XML:\n${plan.xml}`);
        }
        return;
      }
      const t0 = Date.now();
      const { plan, reports } = await createVm(ctx, req, {
        onWait: () => log('waiting for another raptor process to finish (host lock)...'),
        ...(json ? {} : { onEvent: progressPrinter(process.stderr) }),
      });
      const createdMs = Date.now() - t0;
      const account = plan.account?.result;
      if (account && !json) for (const line of account.nixos ? [account.nixos] : describeAccount(account)) log(line);
      if (!json) {
        process.stdout.write(`created ${plan.names.domain} in ${(createdMs / 1000).toFixed(1)} s: CPUs ${formatCpuList(plan.spec.vcpuPins)}, ${plan.spec.network ? `${plan.spec.network.bridge} (${plan.spec.network.mac})` : 'no network'}, disk ${plan.names.lvPath}\n`);
      }
      const waited = waitFor ? await waitForConsole(ctx, vmId, waitFor, timeoutS) : undefined;
      if (waited && !json) process.stdout.write(`console after ${(waited.match.ms / 1000).toFixed(1)} s: ${escapeControls(waited.match.text, { keepNewlines: false })}\n`);
      if (json) {
        printJson({
          created: plan.names.domain,
          resumed: plan.resumed,
          allocation: allocationOf(plan),
          steps: reports.map((r) => ({ kind: r.step.kind, status: r.status, ms: Math.round(r.ms) })),
          createdMs,
          ...(account ? { account: { user: account.user, created: account.accountCreated, keysAdded: account.keysAdded.length } } : {}),
          ...(waited ? { console: { matched: waited.match, lines: waited.lines } } : {}),
        });
      }
    });

  vm.command('destroy')
    .description('destroy a VM: DNS, undefine (+NVRAM), stop, wipe, lvremove')
    .argument('<USER-NAME>')
    .option('--dry-run', 'print the plan, change nothing')
    .addOption(new Option('--verify <mode>', 'read back zeros: sample or full').choices(['sample', 'full']).default('sample'))
    .option('--no-offload', 'zero with plain direct writes even when the device offloads write-zeroes')
    .action(async (id: string, o: Record<string, unknown>, cmd: Command) => {
      const vmId = parseVmId(id);
      const ctx = ctxFor(cmd);
      const json = Boolean(g(cmd).json);
      const uri = ctx.config.libvirt_uri;
      if (o.dryRun) {
        const plan = await planVmDestroy(ctx, vmId);
        if (json) printJson({ dryRun: true, vm: plan.names.domain, steps: planJson(plan, uri) });
        else {
          process.stdout.write(`Plan to destroy ${plan.names.domain} (dry run, nothing changed):\n`);
          printSteps(plan.steps, uri, (s) => process.stdout.write(s + '\n'));
        }
        return;
      }
      const name = domainName(vmId);
      if (!g(cmd).yes) {
        if (!process.stdin.isTTY) throw badInput(`refusing to destroy ${name} without a terminal to confirm: pass --yes`);
        if (!(await confirm(`Destroy ${name} and wipe its disk? This cannot be undone. [y/N] `))) {
          throw badInput('destroy cancelled');
        }
      }
      const stepBytes = parseSize(ctx.config.storage.wipe_step, 'storage.wipe_step');
      const { plan, reports } = await destroyVm(ctx, vmId, {
        onWait: () => log('waiting for another raptor process to finish (host lock)...'),
        ...(json ? {} : { onEvent: progressPrinter(process.stderr) }),
        wipe: {
          offload: o.offload !== false,
          verify: o.verify === 'full' ? 'full' : 'sample',
          stepBytes,
        },
      });
      if (json) printJson({ destroyed: plan.names.domain, steps: reports.map((r) => ({ kind: r.step.kind, status: r.status, ms: Math.round(r.ms) })) });
      else process.stdout.write(`destroyed ${plan.names.domain}\n`);
    });

  vm.command('list')
    .description('list VMs (domains not following the naming rule are shown as unmanaged)')
    .option('--user <user>', 'only this user\'s VMs')
    .option('--expired', 'only VMs whose expiry has passed (what raptor vm reap destroys)')
    .action(async (o: { user?: string; expired?: boolean }, cmd: Command) => {
      if (o.user !== undefined) validateUser(o.user);
      const now = new Date();
      const vms = (await listVms(ctxFor(cmd), o.user)).filter((v) => !o.expired || (v.managed && isExpired(v.expires, now)));
      if (g(cmd).json) printJson(vms);
      else process.stdout.write(table(['NAME', 'USER', 'STATE', 'VCPUS', 'CPUS', 'MEMORY', 'DISK', 'NETWORK', 'EXPIRES'], vms.map(vmRow)));
    });

  vm.command('show')
    .description('show one VM')
    .argument('<USER-NAME>')
    .action(async (id: string, _o, cmd: Command) => {
      const ctx = ctxFor(cmd);
      const vmId = parseVmId(id);
      const info = await showVm(ctx, vmId);
      // a resize of CPUs or memory waits for the next boot: the persistent definition says what comes
      const pending = await pendingOf(ctx, vmId, info.state);
      const warning = expiryWarning(info.name, info.expires, new Date());
      if (warning) log(`raptor: warning: ${warning}`);
      if (g(cmd).json) printJson({ ...info, pending });
      else {
        const rows: [string, string][] = [
          ['name', info.name],
          ['user', info.user ?? '-'],
          ['state', info.state],
          ['vcpus', `${info.vcpus} on host CPUs ${formatCpuList(info.cpuset)} (emulator on ${formatCpuList(info.emulatorCpuset) || '-'})`],
          ['memory', `${info.memoryMiB} MiB`],
          ['disk', info.disk ? `${info.disk.path}${info.disk.sizeBytes != null ? ` (${formatSize(info.disk.sizeBytes)})` : ''}` : '-'],
          ['network', info.network ? `${info.network.bridge} ${info.network.mac} ${info.network.ipv4 ?? ''} ${info.network.ipv6 ?? ''}`.trim() : 'none'],
          ['fqdn', info.fqdn ?? '-'],
          ['created', info.createdAt ?? '-'],
          ['image', info.image ?? '-'],
          ['flavor', info.flavor ?? '-'],
          ['seed', info.seed ?? 'none'],
          ['expires', info.expires ?? 'never'],
          ...(pending
            ? ([['pending', `from the next boot: ${[
                pending.vcpus !== undefined || pending.cpuset ? `${pending.vcpus ?? info.vcpus} vCPUs on host CPUs ${formatCpuList(pending.cpuset ?? info.cpuset)}` : '',
                pending.emulatorCpuset ? `emulator on ${formatCpuList(pending.emulatorCpuset)}` : '',
                pending.memoryMiB !== undefined ? `memory ${pending.memoryMiB} MiB` : '',
              ].filter(Boolean).join(', ')}`]] as [string, string][])
            : []),
        ];
        process.stdout.write(rows.map(([k, v]) => `${k.padEnd(8)} ${v}`).join('\n') + '\n');
      }
    });

  for (const [verb, desc] of [
    ['start', 'start a VM'],
    ['stop', 'shut a VM down (--force: power off)'],
    ['reboot', 'reboot a VM (--force: reset)'],
  ] as const) {
    vm.command(verb)
      .description(desc)
      .argument('<USER-NAME>')
      .option('--force', verb === 'start' ? 'no effect' : 'power off / reset instead of asking the guest')
      .action(async (id: string, o: { force?: boolean }, cmd: Command) => {
        const req = parseRequest(PowerRequest, { id, verb, force: Boolean(o.force) });
        const vmId = parseVmId(req.id);
        const ctx = ctxFor(cmd);
        const result = req.verb === 'start' ? await startVm(ctx, vmId) : req.verb === 'stop' ? await stopVm(ctx, vmId, req.force) : await rebootVm(ctx, vmId, req.force);
        const out: PowerResult = { vm: domainName(vmId), result };
        if (g(cmd).json) printJson(out);
        else process.stdout.write(`${out.vm}: ${out.result}\n`);
      });
  }

  vm.command('console')
    .description("attach this terminal to the VM's console (virsh console; Ctrl+] leaves)")
    .argument('<USER-NAME>')
    .option('--log', 'print what the guest wrote on its console since it started, and exit')
    .action(async (id: string, o: { log?: boolean }, cmd: Command) => {
      const ctx = ctxFor(cmd);
      const vmId = parseVmId(id);
      if (o.log) {
        await requireDomain(ctx, vmId);
        const text = readConsoleLog(ctx, vmId);
        if (g(cmd).json) printJson({ vm: domainName(vmId), log: text });
        else process.stdout.write(text);
        return;
      }
      await attachConsole(ctx, vmId);
    });
}


// Plan steps as plain data, with a title and the shell commands an admin would run instead.
import { formatSize } from '../core/size.ts';
import { strictSource } from '../core/image-header.ts';
import { escapeControls } from '../core/quote.ts';
import { nsupdateLines, type VmAddressing, type ZoneUpdate } from '../dns/records.ts';
import { accountStepCommands, accountStepTitle, isAccountStep, type AccountStep } from './account-steps.ts';

export type Step =
  | { kind: 'lv-create'; vg: string; lv: string; sizeBytes: number; tags: string[] }
  | { kind: 'image-write'; image: string; format: 'raw' | 'qcow2'; target: string; sizeBytes: number }
  | { kind: 'domain-define'; domain: string; xml: string }
  /** the cloud-init NoCloud seed: a FAT image labelled CIDATA with these two files */
  | { kind: 'seed-write'; path: string; metaData: string; userData: string }
  | { kind: 'seed-remove'; path: string }
  | { kind: 'domain-start'; domain: string }
  | { kind: 'lv-untag'; vg: string; lv: string; tag: string }
  | { kind: 'domain-stop'; domain: string; timeoutS: number }
  | { kind: 'domain-undefine'; domain: string; nvram: string }
  | { kind: 'lv-wipe'; vg: string; lv: string; path: string; sizeBytes: number }
  | { kind: 'lv-remove'; vg: string; lv: string }
  /** updates: exactly what is sent (planned from the answers observed under the lock); undo puts back what they change */
  | { kind: 'dns-add'; vm: VmAddressing; force: boolean; ttl: number; updates: ZoneUpdate[]; undo: ZoneUpdate[]; server: string; keyFile: string }
  | { kind: 'dns-remove'; vm: VmAddressing; ttl: number; updates: ZoneUpdate[]; server: string; keyFile: string }
  // vm adopt: a hand-made domain's persistent definition made to follow the rules; vm resize uses it too
  | { kind: 'nvram-copy'; domain: string; from: string; to: string }
  /** changes: what a resize changes, for the title (adopt shows a diff instead) */
  | { kind: 'domain-redefine'; domain: string; xml: string; previousXml: string; changes?: string[] }
  | { kind: 'domain-metadata-live'; domain: string; namespace: string; key: string; xml: string }
  // resize (plan/resize.ts): live memory, the volume, the guest's view of it
  | { kind: 'domain-setmem'; domain: string; memoryMiB: number; previousMiB: number }
  | { kind: 'lv-extend'; vg: string; lv: string; fromBytes: number; toBytes: number }
  | { kind: 'domain-blockresize'; domain: string; target: string; sizeBytes: number }
  // accounts and host files (plan/account-steps.ts)
  | AccountStep;

export type StepKind = Step['kind'];

const q = (s: string): string => (/^[A-Za-z0-9_./:@=+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** Why a step is needed, for the steps that say so (accounts and host files). */
export const stepWhy = (step: Step): string | undefined => (isAccountStep(step) ? step.why : undefined);

export function stepTitle(step: Step): string {
  if (isAccountStep(step)) return accountStepTitle(step);
  switch (step.kind) {
    case 'lv-create':
      return `create logical volume ${step.vg}/${step.lv} of ${formatSize(step.sizeBytes)}`;
    case 'image-write':
      return `write ${step.format} image ${escapeControls(step.image, { keepNewlines: false })} (${formatSize(step.sizeBytes)}) onto ${step.target}`;
    case 'domain-define':
      return `define libvirt domain ${step.domain}`;
    case 'seed-write':
      return `write the cloud-init seed ${step.path} (CIDATA: meta-data, user-data)`;
    case 'seed-remove':
      return `remove the cloud-init seed ${step.path}`;
    case 'domain-start':
      return `start domain ${step.domain}`;
    case 'lv-untag':
      return `mark ${step.vg}/${step.lv} complete (remove tag ${step.tag})`;
    case 'domain-stop':
      return `shut down domain ${step.domain} if it runs (forced off if still running after ${step.timeoutS} s)`;
    case 'domain-undefine':
      return `undefine domain ${step.domain} and remove its NVRAM ${step.nvram}`;
    case 'lv-wipe':
      return `zero ${step.path} (${formatSize(step.sizeBytes)}) and verify`;
    case 'lv-remove':
      return `remove logical volume ${step.vg}/${step.lv}`;
    case 'dns-add':
      return `add DNS records for ${step.vm.fqdn} (A/AAAA and PTR)${step.force ? ', replacing other data' : ''}`;
    case 'dns-remove':
      return `remove DNS records of ${step.vm.fqdn}`;
    case 'nvram-copy':
      return `copy the NVRAM of ${step.domain} from ${step.from} to ${step.to} (its UEFI variables stay)`;
    case 'domain-redefine':
      return step.changes
        ? `redefine ${step.domain} with ${step.changes.join(', ')} (effective from the next boot)`
        : `redefine ${step.domain} (its persistent definition: effective from the next boot)`;
    case 'domain-metadata-live':
      return `record raptor's metadata on the running ${step.domain} too`;
    case 'domain-setmem':
      return `set the running ${step.domain}'s memory to ${step.memoryMiB} MiB (balloon)`;
    case 'lv-extend':
      return `extend logical volume ${step.vg}/${step.lv} from ${formatSize(step.fromBytes)} to ${formatSize(step.toBytes)}`;
    case 'domain-blockresize':
      return `tell the running ${step.domain} that disk ${step.target} is now ${formatSize(step.sizeBytes)}`;
  }
}

/** The equivalent commands an admin would run by hand (the procedure's commands). */
export function stepCommands(step: Step, uri: string): string[] {
  if (isAccountStep(step)) return accountStepCommands(step);
  const virsh = `virsh -c ${q(uri)}`;
  switch (step.kind) {
    case 'lv-create':
      return [`lvcreate -L ${step.sizeBytes}b -n ${q(step.lv)}${step.tags.map((t) => ` --addtag ${q(t)}`).join('')} ${q(step.vg)}`];
    case 'image-write':
      return [`qemu-img convert -p -n -O raw -t none ${q(strictSource(step.format, step.image))} ${q(step.target)}`];
    case 'domain-define':
      return [`${virsh} define ${q(step.domain)}.xml`];
    case 'seed-write':
      return [`mkfs.vfat -C -n CIDATA ${q(step.path)} 1024`, `mcopy -i ${q(step.path)} meta-data user-data ::/   # the files shown below`, `chmod 0600 ${q(step.path)}`];
    case 'seed-remove':
      return [`rm -f ${q(step.path)}`];
    case 'domain-start':
      return [`${virsh} start ${q(step.domain)}`];
    case 'lv-untag':
      return [`lvchange --deltag ${q(step.tag)} ${q(step.vg)}/${q(step.lv)}`];
    case 'domain-stop':
      return [`${virsh} shutdown ${q(step.domain)}`, `# after ${step.timeoutS} s if still running:`, `${virsh} destroy ${q(step.domain)}`];
    case 'domain-undefine':
      return [`${virsh} undefine --nvram ${q(step.domain)}`];
    case 'lv-wipe':
      return [
        `blkdiscard --zeroout ${q(step.path)}   # or: dd if=/dev/zero of=${q(step.path)} bs=4M oflag=direct status=progress`,
      ];
    case 'lv-remove':
      return [`lvremove ${q(step.vg)}/${q(step.lv)}`];
    case 'dns-add':
    case 'dns-remove':
      return [`nsupdate -k ${q(step.keyFile)} <<EOF`, `server ${step.server}`, ...nsupdateLines(step.updates, step.ttl), 'EOF'];
    case 'nvram-copy':
      return [`cp --preserve=mode,ownership ${q(step.from)} ${q(step.to)}`];
    case 'domain-redefine':
      return step.changes
        ? [`${virsh} define ${q(step.domain)}.xml`]
        : [`${virsh} dumpxml --inactive --security-info ${q(step.domain)} > ${q(step.domain)}.xml`, `# edit ${q(step.domain)}.xml as the diff shows`, `${virsh} define ${q(step.domain)}.xml`];
    case 'domain-metadata-live':
      return [`${virsh} metadata ${q(step.domain)} --uri ${q(step.namespace)} --key ${q(step.key)} --set ${q(step.xml)} --live`];
    case 'domain-setmem':
      return [`${virsh} setmem ${q(step.domain)} ${step.memoryMiB}M --live`];
    case 'lv-extend':
      return [`lvextend -L ${step.toBytes}b ${q(step.vg)}/${q(step.lv)}`];
    case 'domain-blockresize':
      return [`${virsh} blockresize ${q(step.domain)} ${q(step.target)} --size ${step.sizeBytes}B`];
  }
}

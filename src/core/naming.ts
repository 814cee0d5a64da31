// The one naming authority (docs/house-rules.md): every artifact name is derived here and nowhere else.
import { badInput } from './errors.ts';
import { quoteInput } from './quote.ts';

export const USER_RE = /^[a-z_][a-z0-9_]{0,31}$/;
export const NAME_RE = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
export const MAX_ID_LENGTH = 63;
export const LV_PREFIX = 'guest-';

export interface VmId {
  user: string;
  name: string;
}

export function validateUser(user: string): string {
  if (!USER_RE.test(user)) {
    throw badInput(
      `invalid user ${quoteInput(user)}: must be 1-32 characters of a-z, 0-9 and _, starting with a letter or _ (no "-")`,
    );
  }
  return user;
}

/** Split `USER-NAME` at the first `-` (users cannot contain `-`, so the split is unambiguous). */
export function parseVmId(id: string): VmId {
  const dash = id.indexOf('-');
  if (dash <= 0 || dash === id.length - 1) {
    throw badInput(`invalid VM id ${quoteInput(id)}: expected USER-NAME, e.g. alice-web`);
  }
  const user = id.slice(0, dash);
  const name = id.slice(dash + 1);
  validateUser(user);
  if (!NAME_RE.test(name)) {
    throw badInput(
      `invalid VM name ${quoteInput(name)} in ${quoteInput(id)}: must be a DNS label of a-z, 0-9 and "-", not starting or ending with "-"`,
    );
  }
  if (id.length > MAX_ID_LENGTH) {
    throw badInput(`invalid VM id ${quoteInput(id)}: ${id.length} characters, at most ${MAX_ID_LENGTH} allowed`);
  }
  return { user, name };
}

/** RFC 1123 host name label: letters, digits and inner hyphens, 1-63 characters. */
export const HOST_LABEL_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
/** Longest domain name in its text form without the final dot (RFC 1035: 255 octets on the wire). */
export const MAX_DOMAIN_NAME = 253;

/** Why `name` is not an RFC 1123 host name (dot-separated labels), or undefined when it is one. */
export function hostNameProblem(name: string): string | undefined {
  const bare = name.replace(/\.$/, '');
  if (bare.length === 0) return 'it is empty';
  if (bare.length > MAX_DOMAIN_NAME) return `${bare.length} characters, at most ${MAX_DOMAIN_NAME} allowed`;
  for (const label of bare.split('.')) {
    if (label.length === 0) return 'it has an empty label';
    if (label.length > 63) return `a label of ${label.length} characters, at most 63 allowed`;
    if (!HOST_LABEL_RE.test(label)) return `label ${quoteInput(label)} is not letters, digits and inner "-"`;
  }
  return undefined;
}

/**
 * A new VM needs a host name: the guest's own, DHCP's and, with DNS, `{id}.{zone}`. User names may
 * hold "_" (accounts can), but such a user's VM ids are no host names, so they are refused (exit 2).
 */
export function validateHostName(vm: VmId, zone: string | undefined): void {
  const id = domainName(vm);
  if (!HOST_LABEL_RE.test(id)) {
    throw badInput(`invalid VM id ${quoteInput(id)}: a VM's id is its host name (RFC 1123: a-z, 0-9 and "-" only), so a user name with "_" cannot own VMs`);
  }
  if (zone === undefined) return;
  const name = fqdn(vm, zone);
  const problem = hostNameProblem(name);
  if (problem) throw badInput(`invalid VM id ${quoteInput(id)}: its DNS name ${quoteInput(name, 260)} is no valid host name: ${problem}`);
}

/** Like parseVmId but returns undefined instead of throwing: for classifying existing domains. */
export function tryParseVmId(id: string): VmId | undefined {
  try {
    return parseVmId(id);
  } catch {
    return undefined;
  }
}

export const domainName = (vm: VmId): string => `${vm.user}-${vm.name}`;
export const lvName = (vm: VmId): string => `${LV_PREFIX}${vm.user}-${vm.name}`;
export const lvPath = (vm: VmId, vg: string): string => `/dev/${vg}/${lvName(vm)}`;
export const nvramPath = (vm: VmId, nvramDir: string): string =>
  `${nvramDir.replace(/\/+$/, '')}/${vm.user}-${vm.name}_VARS.fd`;
export const fqdn = (vm: VmId, zone: string): string => `${vm.user}-${vm.name}.${zone.replace(/\.$/, '')}`;
export const accountName = (vm: VmId): string => vm.user;
export const consoleLogPath = (vm: VmId, logDir: string): string => `${logDir.replace(/\/+$/, '')}/${vm.user}-${vm.name}-console.log`;
/** The VM's cloud-init NoCloud seed (a small FAT image labelled CIDATA). */
export const seedPath = (vm: VmId, seedDir: string): string => `${seedDir.replace(/\/+$/, '')}/${vm.user}-${vm.name}-cidata.img`;

/** The VM an LV name belongs to, if the LV follows the naming rule. */
export function vmIdFromLvName(lv: string): VmId | undefined {
  return lv.startsWith(LV_PREFIX) ? tryParseVmId(lv.slice(LV_PREFIX.length)) : undefined;
}

/** All names of one VM, derived in one place. */
export function artifactNames(vm: VmId, opts: { vg: string; nvramDir: string; zone: string; consoleLogDir: string; seedDir: string }) {
  return {
    domain: domainName(vm),
    lv: lvName(vm),
    lvPath: lvPath(vm, opts.vg),
    nvram: nvramPath(vm, opts.nvramDir),
    fqdn: fqdn(vm, opts.zone),
    account: accountName(vm),
    consoleLog: consoleLogPath(vm, opts.consoleLogDir),
    seed: seedPath(vm, opts.seedDir),
  };
}

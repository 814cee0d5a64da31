// NixOS: accounts, groups, polkit rules and libvirtd.conf are declared in the system
// configuration, so raptor prints what to add instead of writing /etc. Pure.
import { ACCESS_DRIVERS_LINE } from './libvirt-conf.ts';
import { formatAuthorizedKey, type SshPublicKey } from './ssh-keys.ts';

/** Quote a string for a Nix double-quoted string. */
export const nixString = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$\{/g, '\\${')}"`;

/** Body of a Nix indented string (''…''), indented by `indent`; `''` and `${` are escaped. */
export function nixIndented(text: string, indent: string): string {
  const escaped = text.replace(/''/g, "'''").replace(/\$\{/g, "''${");
  return escaped
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => (l === '' ? '' : indent + l))
    .join('\n');
}

/** A Nix attribute name: bare when it is a plain identifier, quoted otherwise. */
const nixAttr = (name: string): string => (/^[A-Za-z_][A-Za-z0-9_'-]*$/.test(name) ? name : nixString(name));

/** One account; the group itself comes with `raptor host init`'s output (Nix refuses a second definition). */
export function nixosUserConfig(user: string, userGroup: string, keys: SshPublicKey[]): string {
  const keyLines = keys.map((k) => `    ${nixString(formatAuthorizedKey(k))}\n`).join('');
  return (
    `users.users.${nixAttr(user)} = {\n` +
    `  isNormalUser = true;\n` +
    `  extraGroups = [ ${nixString(userGroup)} ];\n` +
    (keys.length ? `  openssh.authorizedKeys.keys = [\n${keyLines}  ];\n` : '') +
    `};\n`
  );
}

export function nixosHostConfig(userGroup: string, rules: string): string {
  return (
    `users.groups.${nixAttr(userGroup)} = {};\n` +
    `security.polkit.extraConfig = ''\n${nixIndented(rules, '  ')}\n'';\n` +
    `virtualisation.libvirtd.extraConfig = ''\n${nixIndented(ACCESS_DRIVERS_LINE, '  ')}\n'';\n`
  );
}

/** The whole message: where it goes, the attributes (indented for the top-level set), how to apply. */
export function nixosInstructions(what: string, body: string, why = 'This is NixOS (/etc/NIXOS exists)'): string {
  const indented = body
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => (l === '' ? '' : `  ${l}`))
    .join('\n');
  return (
    `# ${why}: ${what} are declared in the system configuration,\n` +
    `# so raptor changed nothing. Add this inside the top-level { ... } of\n` +
    `# /etc/nixos/configuration.nix, then run: nixos-rebuild switch\n` +
    `${indented}\n`
  );
}

// How libvirtd is kept away from paths that non-admins control. Pure: data and text out.
// libvirtd opens some client-named paths (virsh restore/save FILE, ...) before its ACL check, so
// polkit cannot stop a vm-user from making it open a FIFO she made (it blocks a worker forever) or
// from probing whether a root-only file exists. Giving the daemon its own empty /tmp, /var/tmp,
// /dev/shm, /run/lock (Debian makes it 1777) and no /home, /root, /run/user removes every place an ordinary user can create files
// from the daemon's view. systemd makes such a mount namespace from these unit settings; the
// sandbox makes the same one by hand, and the NixOS module reads nix/libvirtd-confinement.json.

/** systemd [Service] settings for libvirtd.service / virtqemud.service (values as systemd spells them). */
export const LIBVIRTD_CONFINEMENT: Readonly<Record<string, string>> = {
  PrivateTmp: 'yes',
  ProtectHome: 'yes',
  TemporaryFileSystem: '/dev/shm /run/lock',
};

/** The places ordinary users can create files that the confinement hides from libvirtd. */
export const USER_WRITABLE_PATHS = ['/tmp', '/var/tmp', '/dev/shm', '/run/lock', '/home', '/root', '/run/user'] as const;

/** Where the drop-in goes for a daemon's unit. */
export const dropInPath = (unit: string): string => `/etc/systemd/system/${unit}.d/60-raptor-confine.conf`;

/** A systemd drop-in (e.g. /etc/systemd/system/libvirtd.service.d/60-raptor-confine.conf). */
export function renderConfinementDropIn(): string {
  const lines = Object.entries(LIBVIRTD_CONFINEMENT).map(([k, v]) => `${k}=${v}`);
  return `# raptor: keep libvirtd away from paths ordinary users control (raptor host check explains)\n[Service]\n${lines.join('\n')}\n`;
}

/** The same settings as the NixOS module sets them (systemd.services.libvirtd.serviceConfig). */
export function confinementJson(): string {
  return JSON.stringify(LIBVIRTD_CONFINEMENT, null, 2) + '\n';
}

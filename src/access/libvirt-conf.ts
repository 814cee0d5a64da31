// libvirt daemon config (libvirtd.conf, virtqemud.conf, …): the one setting raptor needs,
// `access_drivers = [ "polkit" ]`. Pure: text in, text out; other lines stay byte-identical.

export const ACCESS_DRIVERS_LINE = 'access_drivers = [ "polkit" ]';

/** An uncommented `access_drivers = [ … ]` setting (the list may span lines, as libvirt's parser allows). */
const SETTING_RE = /^[ \t]*access_drivers[ \t]*=[ \t]*\[([^\]]*)\][^\n]*$/m;

/** The drivers the config names, or undefined when it has no access_drivers setting. */
export function accessDrivers(text: string): string[] | undefined {
  const m = SETTING_RE.exec(text);
  if (!m) return undefined;
  return [...m[1]!.matchAll(/"([^"]*)"|'([^']*)'/g)].map((x) => x[1] ?? x[2] ?? '');
}

export const hasPolkitAccessDriver = (text: string): boolean => (accessDrivers(text) ?? []).includes('polkit');

export interface ConfEdit {
  text: string;
  changed: boolean;
  /** what was there before, for the report */
  before: string[] | undefined;
}

/** Make the config turn the polkit access driver on; a text that already does comes back unchanged. */
export function ensurePolkitAccessDriver(text: string): ConfEdit {
  const before = accessDrivers(text);
  if (before?.includes('polkit')) return { text, changed: false, before };
  if (before !== undefined) {
    // keep other real drivers; "nop" grants everything and makes no sense next to polkit
    const drivers = ['polkit', ...before.filter((d) => d !== 'polkit' && d !== 'nop' && d !== '')];
    const line = `access_drivers = [ ${drivers.map((d) => `"${d}"`).join(', ')} ]`;
    return { text: text.replace(SETTING_RE, line), changed: true, before };
  }
  const base = text === '' || text.endsWith('\n') ? text : `${text}\n`;
  return {
    text: `${base}\n# Added by \`raptor host init\`: let polkit rules decide every libvirt API call (raptor host check explains).\n${ACCESS_DRIVERS_LINE}\n`,
    changed: true,
    before,
  };
}

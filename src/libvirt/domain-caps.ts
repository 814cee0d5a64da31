// `virsh domcapabilities`: which firmware files libvirt knows for this machine type. Pure.
import { XMLParser } from 'fast-xml-parser';

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', parseTagValue: false, isArray: (name) => name === 'value' || name === 'enum' });

interface LoaderNode {
  value?: unknown[];
  enum?: unknown[];
}

/**
 * The firmware (loader) paths the domain capabilities name: the `<value>`s directly under
 * `<os><loader>`. The `<enum>`s beside them (type rom/pflash, readonly yes/no, secure) are not files.
 */
export function loaderPaths(xml: string): string[] {
  let doc: { domainCapabilities?: { os?: { loader?: LoaderNode } } };
  try {
    doc = parser.parse(xml) as typeof doc;
  } catch {
    return [];
  }
  const values = doc.domainCapabilities?.os?.loader?.value ?? [];
  return values.filter((v): v is string => typeof v === 'string' && v.trim().startsWith('/')).map((v) => v.trim());
}

/** The end of `host check`'s fix for a missing firmware.code: what libvirt lists, or that it lists nothing. */
export function firmwareSuggestion(paths: string[] | undefined): string {
  if (paths === undefined) return '; virsh domcapabilities could not be read, so no firmware file is suggested';
  return paths.length ? `; virsh domcapabilities lists these firmware files: ${paths.join(', ')}` : '; virsh domcapabilities names no firmware files';
}

// Edits of a domain XML libvirt handed back (`dumpxml --inactive`) for resize and expiry: everything
// change (uuid, PCI addresses, devices libvirt added) stays as it was.
import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { RaptorError } from '../core/errors.ts';

type ONode = Record<string, unknown>;
const opts = { preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '@_', parseTagValue: false, parseAttributeValue: false, trimValues: true } as const;
const parser = new XMLParser(opts);
const builder = new XMLBuilder({ ...opts, format: true, indentBy: '  ', suppressEmptyNode: true });

const tagOf = (n: ONode): string | undefined => Object.keys(n).find((k) => k !== ':@');
const childrenOf = (n: ONode): ONode[] => n[tagOf(n)!] as ONode[];
const el = (tag: string, attrs: Record<string, string | number> = {}, children: ONode[] = []): ONode => ({
  [tag]: children,
  ...(Object.keys(attrs).length ? { ':@': Object.fromEntries(Object.entries(attrs).map(([k, v]) => [`@_${k}`, String(v)])) } : {}),
});
const textNode = (t: string | number): ONode => ({ '#text': String(t) });

function parseDoc(xml: string, root: string): { doc: ONode[]; root: ONode } {
  let doc: ONode[];
  try {
    doc = parser.parse(xml) as ONode[];
  } catch (err) {
    throw new RaptorError('unexpected', `cannot parse XML: ${(err as Error).message}`);
  }
  const r = doc.find((n) => tagOf(n) === root);
  if (!r) throw new RaptorError('unexpected', `XML has no <${root}> element`);
  return { doc, root: r };
}

/** Replace the first child `tag` (or append one) with `node`. */
function upsert(parent: ONode[], tag: string, node: ONode, after?: string): void {
  const i = parent.findIndex((n) => tagOf(n) === tag);
  if (i >= 0) parent[i] = node;
  else {
    const j = after === undefined ? -1 : parent.findIndex((n) => tagOf(n) === after);
    parent.splice(j >= 0 ? j + 1 : parent.length, 0, node);
  }
}

export interface DomainEdit {
  memoryMiB?: number;
  /** host CPU for vCPU i: sets <vcpu> to its length and rewrites vcpupin/emulatorpin */
  vcpuPins?: number[];
  emulatorSet?: number[];
}

/** The same domain with new memory and/or CPUs (the persistent definition a resize defines). */
export function editDomainXml(xml: string, edit: DomainEdit): string {
  const { doc, root } = parseDoc(xml, 'domain');
  const kids = childrenOf(root);
  if (edit.memoryMiB !== undefined) {
    // no balloon target below the maximum: the whole new size is the guest's from the next boot
    upsert(kids, 'memory', el('memory', { unit: 'MiB' }, [textNode(edit.memoryMiB)]), 'name');
    upsert(kids, 'currentMemory', el('currentMemory', { unit: 'MiB' }, [textNode(edit.memoryMiB)]), 'memory');
  }
  if (edit.vcpuPins !== undefined) {
    const pins = edit.vcpuPins;
    // `current` and `cpuset` on <vcpu> would contradict the one-to-one pins
    upsert(kids, 'vcpu', el('vcpu', { placement: 'static' }, [textNode(pins.length)]), 'currentMemory');
    const cputune = kids.find((n) => tagOf(n) === 'cputune');
    const rest = cputune ? childrenOf(cputune).filter((n) => !['vcpupin', 'emulatorpin', 'vcpusched'].includes(tagOf(n) ?? '')) : [];
    const pinNodes = [
      ...pins.map((cpu, vcpu) => el('vcpupin', { vcpu, cpuset: cpu })),
      el('emulatorpin', { cpuset: (edit.emulatorSet ?? pins.slice(-Math.min(2, pins.length))).join(',') }),
    ];
    upsert(kids, 'cputune', { ...(cputune ?? {}), cputune: [...pinNodes, ...rest] }, 'vcpu');
  }
  return String(builder.build(doc)).trim() + '\n';
}

/**
 * raptor's metadata element as `virsh metadata DOMAIN URI` prints it (unprefixed), with child
 * `key` set to `value` (null: removed). Other children (owner, bridge, what later versions add) stay.
 */
export function setMetadataChild(metadataXml: string, key: string, value: string | null): string {
  const { doc, root } = parseDoc(metadataXml, 'vm');
  const kids = childrenOf(root).filter((n) => tagOf(n) !== key);
  if (value !== null) kids.push(el(key, {}, [textNode(value)]));
  root[tagOf(root)!] = kids;
  return String(builder.build(doc)).trim() + '\n';
}

/** Whether the domain has a memory balloon raptor can drive live (`<memballoon model="none">` has none). */
export function hasBalloon(xml: string): boolean {
  const m = /<memballoon\b[^>]*\bmodel=['"]([^'"]+)['"]/.exec(xml);
  return m !== null && m[1] !== 'none';
}

/** The target dev (vda) of the disk whose source is `path`, from a domain XML. */
export function diskTargetOf(xml: string, path: string): string | undefined {
  for (const m of xml.matchAll(/<disk\b[\s\S]*?<\/disk>/g)) {
    const disk = m[0];
    const src = /<source\b[^>]*\b(?:dev|file)=['"]([^'"]+)['"]/.exec(disk)?.[1];
    if (src === path) return /<target\b[^>]*\bdev=['"]([^'"]+)['"]/.exec(disk)?.[1];
  }
  return undefined;
}

// Editing an existing domain's XML in place: every element raptor does not touch (uuid, controllers,
// PCI addresses, other metadata) stays as it was, so a redefine changes only what a rule needs. Pure.
import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { RaptorError } from '../core/errors.ts';

/** One element in document order: `{ tag: children, ':@': { '@_attr': value } }`, or `{ '#text': s }`. */
export type XmlNode = Record<string, unknown>;

const OPTIONS = {
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  preserveOrder: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
} as const;

const parser = new XMLParser(OPTIONS);
const builder = new XMLBuilder({ ...OPTIONS, format: true, indentBy: '  ', suppressEmptyNode: true });
const compact = new XMLBuilder({ ...OPTIONS, format: false, suppressEmptyNode: true });

export const tagOf = (n: XmlNode): string => Object.keys(n).find((k) => k !== ':@') ?? '';
export const childrenOf = (n: XmlNode): XmlNode[] => {
  const c = n[tagOf(n)];
  return Array.isArray(c) ? (c as XmlNode[]) : [];
};
export const attrOf = (n: XmlNode | undefined, name: string): string | undefined => {
  const a = n?.[':@'] as Record<string, string> | undefined;
  return a?.[`@_${name}`];
};

export function setAttr(n: XmlNode, name: string, value: string | undefined): void {
  const a = ((n[':@'] as Record<string, string> | undefined) ?? {}) as Record<string, string>;
  if (value === undefined) delete a[`@_${name}`];
  else a[`@_${name}`] = value;
  if (Object.keys(a).length) n[':@'] = a;
  else delete n[':@'];
}

/** A new element; attributes in the order given, children after. */
export function el(tag: string, attrs: Record<string, string> = {}, children: (XmlNode | string)[] = []): XmlNode {
  const node: XmlNode = { [tag]: children.map((c) => (typeof c === 'string' ? { '#text': c } : c)) };
  if (Object.keys(attrs).length) node[':@'] = Object.fromEntries(Object.entries(attrs).map(([k, v]) => [`@_${k}`, v]));
  return node;
}

export const textOf = (n: XmlNode | undefined): string =>
  n ? childrenOf(n).filter((c) => '#text' in c).map((c) => String(c['#text'])).join('') : '';

export function setText(n: XmlNode, value: string): void {
  n[tagOf(n)] = [{ '#text': value }];
}

export const child = (n: XmlNode, tag: string): XmlNode | undefined => childrenOf(n).find((c) => tagOf(c) === tag);
export const childrenNamed = (n: XmlNode, tag: string): XmlNode[] => childrenOf(n).filter((c) => tagOf(c) === tag);

/** Remove the children for which `drop` holds; returns how many went. */
export function removeChildren(n: XmlNode, drop: (c: XmlNode) => boolean): number {
  const before = childrenOf(n);
  const kept = before.filter((c) => !drop(c));
  n[tagOf(n)] = kept;
  return before.length - kept.length;
}

/** The child `tag`, made (after the last of `after`, else at the end) when missing. */
export function ensureChild(n: XmlNode, tag: string, after: string[] = []): XmlNode {
  const found = child(n, tag);
  if (found) return found;
  const made = el(tag);
  insertChild(n, made, after);
  return made;
}

export function insertChild(n: XmlNode, node: XmlNode, after: string[] = []): void {
  const list = childrenOf(n);
  let at = -1;
  list.forEach((c, i) => {
    if (after.includes(tagOf(c))) at = i;
  });
  if (at < 0) list.push(node);
  else list.splice(at + 1, 0, node);
  n[tagOf(n)] = list;
}

/** A domain document: the root `<domain>` element and whatever sits beside it (nothing, normally). */
export class DomainDocument {
  private constructor(private readonly top: XmlNode[]) {}

  static parse(xml: string): DomainDocument {
    let top: XmlNode[];
    try {
      top = parser.parse(xml) as XmlNode[];
    } catch (err) {
      throw new RaptorError('unexpected', `cannot parse domain XML: ${(err as Error).message}`);
    }
    if (!top.some((n) => tagOf(n) === 'domain')) throw new RaptorError('unexpected', 'no <domain> element in the XML');
    return new DomainDocument(top);
  }

  get domain(): XmlNode {
    return this.top.find((n) => tagOf(n) === 'domain')!;
  }

  /** The document as text, one element per line: the same layout for an edited and an unedited copy. */
  render(): string {
    return String(builder.build(this.top)).trim() + '\n';
  }

  /** One element as compact text (for `virsh metadata --set`). */
  static fragment(node: XmlNode): string {
    return String(compact.build([node])).trim();
  }

  clone(): DomainDocument {
    return new DomainDocument(structuredClone(this.top));
  }
}

// An in-memory Hypervisor for unit tests of the service layer: libvirt's define/undefine/start/
// destroy semantics (a running domain undefined turns transient; a transient one stopped is gone)
// and its errors with libvirt's own numbers. Not for production: nothing here touches the host.
import { Duplex, PassThrough } from 'node:stream';
import type { DomainState, DomainSummary } from '../core/host-types.ts';
import { LibvirtError, VIR_ERR, type Hypervisor, type MetadataWhere, type XmlOptions } from './hypervisor.ts';

export interface FakeDomain {
  name: string;
  /** the running definition (or the only one, when shut off) */
  xml: string;
  /** the persistent definition when it differs from the running one (a define while running) */
  nextXml?: string;
  state: DomainState;
  persistent: boolean;
  memoryMiB?: number;
  metadata: Map<string, string>;
}

type Method = Exclude<keyof Hypervisor, 'uri'>;

const nameOf = (xml: string): string | undefined => /<name>([^<]+)<\/name>/.exec(xml)?.[1];

export class FakeHypervisor implements Hypervisor {
  readonly uri = 'test:///fake';
  readonly domains = new Map<string, FakeDomain>();
  /** every changing call, in order: "define alice-web", "start alice-web", … */
  readonly calls: string[] = [];
  private readonly failures = new Map<Method, LibvirtError | Error>();
  /** what a console stream reads, per domain (a test writes the guest's side here) */
  readonly consoles = new Map<string, PassThrough>();

  /** Make the next call of `method` fail with `err` (once). */
  failNext(method: Method, err: LibvirtError | Error = new LibvirtError(VIR_ERR.INTERNAL_ERROR, `internal error: ${method} failed (injected)`)): void {
    this.failures.set(method, err);
  }

  /** A domain as if made by hand (by virsh define), for a test's starting host. */
  add(xml: string, state: DomainState = 'shut off', persistent = true): void {
    const name = nameOf(xml);
    if (!name) throw new Error('fake domain XML has no <name>');
    this.domains.set(name, { name, xml, state, persistent, metadata: new Map() });
  }

  private fail(method: Method): void {
    const err = this.failures.get(method);
    if (err) {
      this.failures.delete(method);
      throw err;
    }
  }

  private get(name: string): FakeDomain {
    const d = this.domains.get(name);
    if (!d) throw new LibvirtError(VIR_ERR.NO_DOMAIN, `Domain not found: no domain with matching name '${name}'`);
    return d;
  }

  private running(name: string): FakeDomain {
    const d = this.get(name);
    if (d.state !== 'running' && d.state !== 'paused') throw new LibvirtError(VIR_ERR.OPERATION_INVALID, 'Requested operation is not valid: domain is not running');
    return d;
  }

  /** Power off: a transient domain is gone; a persistent one takes on its next definition. */
  private off(d: FakeDomain): void {
    if (!d.persistent) {
      this.domains.delete(d.name);
      return;
    }
    d.state = 'shut off';
    if (d.nextXml !== undefined) {
      d.xml = d.nextXml;
      delete d.nextXml;
    }
  }

  async list(): Promise<DomainSummary[]> {
    this.fail('list');
    return [...this.domains.values()].map((d) => ({ name: d.name, state: d.state }));
  }

  async listWithXml<T>(parse: (xml: string) => T, opts: { inactive?: boolean } = {}): Promise<(DomainSummary & { parsed: T })[]> {
    this.fail('listWithXml');
    return [...this.domains.values()].map((d) => ({ name: d.name, state: d.state, parsed: parse(opts.inactive ? (d.nextXml ?? d.xml) : d.xml) }));
  }

  async dumpXmls(names: string[], opts: XmlOptions = {}): Promise<Map<string, string>> {
    this.fail('dumpXmls');
    const out = new Map<string, string>();
    for (const n of names) {
      const d = this.domains.get(n);
      if (d) out.set(n, opts.inactive ? (d.nextXml ?? d.xml) : d.xml);
    }
    return out;
  }

  async dumpXml(name: string, opts: XmlOptions = {}): Promise<string> {
    this.fail('dumpXml');
    const d = this.get(name);
    return opts.inactive ? (d.nextXml ?? d.xml) : d.xml;
  }

  async state(name: string): Promise<DomainState | undefined> {
    this.fail('state');
    return this.domains.get(name)?.state;
  }

  async persistent(name: string): Promise<boolean | undefined> {
    this.fail('persistent');
    return this.domains.get(name)?.persistent;
  }

  async define(xml: string): Promise<void> {
    this.fail('define');
    const name = nameOf(xml);
    if (!name) throw new LibvirtError(VIR_ERR.XML_ERROR, 'XML error: missing domain name');
    this.calls.push(`define ${name}`);
    const d = this.domains.get(name);
    if (!d) this.domains.set(name, { name, xml, state: 'shut off', persistent: true, metadata: new Map() });
    else if (d.state === 'shut off') {
      d.xml = xml;
      d.persistent = true;
    } else {
      d.nextXml = xml;
      d.persistent = true;
    }
  }

  async undefine(name: string, opts: { all?: boolean } = {}): Promise<void> {
    this.fail('undefine');
    const d = this.get(name);
    if (!d.persistent) throw new LibvirtError(VIR_ERR.OPERATION_INVALID, 'Requested operation is not valid: cannot undefine transient domain');
    this.calls.push(`undefine ${name}${opts.all ? ' --all' : ''}`);
    if (d.state === 'shut off') this.domains.delete(name);
    else {
      d.persistent = false;
      delete d.nextXml;
    }
  }

  async start(name: string): Promise<void> {
    this.fail('start');
    const d = this.get(name);
    if (d.state !== 'shut off') throw new LibvirtError(VIR_ERR.OPERATION_INVALID, 'Requested operation is not valid: domain is already running');
    this.calls.push(`start ${name}`);
    d.state = 'running';
  }

  async shutdown(name: string): Promise<void> {
    this.fail('shutdown');
    const d = this.running(name);
    this.calls.push(`shutdown ${name}`);
    this.off(d); // a guest that obeys ACPI at once
  }

  async destroy(name: string): Promise<void> {
    this.fail('destroy');
    const d = this.running(name);
    this.calls.push(`destroy ${name}`);
    this.off(d);
  }

  async reboot(name: string): Promise<void> {
    this.fail('reboot');
    this.running(name);
    this.calls.push(`reboot ${name}`);
  }

  async reset(name: string): Promise<void> {
    this.fail('reset');
    this.running(name);
    this.calls.push(`reset ${name}`);
  }

  async setMemoryLive(name: string, memoryMiB: number): Promise<void> {
    this.fail('setMemoryLive');
    this.running(name).memoryMiB = memoryMiB;
    this.calls.push(`setmem ${name} ${memoryMiB}`);
  }

  async blockResize(name: string, target: string, sizeBytes: number): Promise<void> {
    this.fail('blockResize');
    this.running(name);
    this.calls.push(`blockresize ${name} ${target} ${sizeBytes}`);
  }

  async metadata(name: string, uri: string): Promise<string> {
    this.fail('metadata');
    const m = this.get(name).metadata.get(uri);
    if (m === undefined) throw new LibvirtError(VIR_ERR.NO_DOMAIN_METADATA, 'metadata not found: Requested metadata element is not present');
    return m;
  }

  async setMetadata(name: string, uri: string, _key: string, xml: string, where: MetadataWhere = {}): Promise<void> {
    this.fail('setMetadata');
    const d = this.get(name);
    if (where.live && d.state === 'shut off') throw new LibvirtError(VIR_ERR.OPERATION_INVALID, 'Requested operation is not valid: domain is not running');
    d.metadata.set(uri, xml);
    this.calls.push(`metadata ${name} ${uri}`);
  }

  async removeMetadata(name: string, uri: string): Promise<void> {
    this.fail('removeMetadata');
    this.get(name).metadata.delete(uri);
    this.calls.push(`metadata-remove ${name} ${uri}`);
  }

  async version(): Promise<{ daemon: string | undefined }> {
    this.fail('version');
    return { daemon: 'fake' };
  }

  async domainCapabilities(): Promise<string> {
    this.fail('domainCapabilities');
    return '<domainCapabilities/>';
  }

  async attachConsole(name: string): Promise<void> {
    this.fail('attachConsole');
    this.running(name);
    throw new LibvirtError(VIR_ERR.OPERATION_UNSUPPORTED, 'Operation not supported: the fake hypervisor has no terminal console');
  }

  /** Reads what the test writes to `consoles.get(name)`; what the caller writes is echoed there too. */
  async openConsole(name: string): Promise<Duplex> {
    this.fail('openConsole');
    this.running(name);
    const guest = new PassThrough();
    this.consoles.set(name, guest);
    return Duplex.from({ readable: guest, writable: new PassThrough().on('data', (d: Buffer) => guest.write(d)) });
  }
}

// The Hypervisor on libvirt's own protocol: no virsh process per operation, and libvirt's error
// numbers as libvirt sent them. What it does not speak yet (console streams, metadata, setmem,
// blockresize) goes to the virsh implementation, so the interface stays whole.
import type { Duplex } from 'node:stream';
import { isDenied, isNoDomain, LibvirtError, VIR_ERR, type DomainState, type DomainSummary, type Hypervisor, type MetadataWhere, type XmlOptions } from '../hypervisor.ts';
import { STATE_BY_NUMBER } from '../virsh.ts';
import type { RpcTransport } from './client.ts';
import { DOMAIN_LIST_MAX, DOMAIN_XML, PROC, readDomain, readString, UNDEFINE, writeDomain, writeOptString, writeString, type RemoteDomain } from './protocol.ts';
import { XdrReader, XdrWriter } from './xdr.ts';

const xmlFlags = (o: XmlOptions = {}): number => (o.inactive ? DOMAIN_XML.INACTIVE : 0) | (o.securityInfo ? DOMAIN_XML.SECURE : 0);

/** The methods this implementation hands to virsh. */
export type VirshDelegated = 'setMemoryLive' | 'blockResize' | 'metadata' | 'setMetadata' | 'removeMetadata' | 'attachConsole' | 'openConsole';

export class RpcHypervisor implements Hypervisor {
  constructor(
    private readonly client: RpcTransport,
    private readonly virsh: Pick<Hypervisor, VirshDelegated>,
  ) {}

  get uri(): string {
    return this.client.uri;
  }

  close(): Promise<void> {
    return this.client.close();
  }

  private async call(proc: number, args?: (w: XdrWriter) => void): Promise<XdrReader> {
    let payload: Buffer | undefined;
    if (args) {
      const w = new XdrWriter();
      args(w);
      payload = w.toBuffer();
    }
    return new XdrReader(await this.client.call(proc, payload));
  }

  /**
   * The domain by name. A domain the caller may not see is, for the caller, no such domain
   * (as virsh reports it), so polkit's refusal of a lookup becomes NO_DOMAIN.
   */
  async lookup(name: string): Promise<RemoteDomain> {
    try {
      const r = await this.call(PROC.DOMAIN_LOOKUP_BY_NAME, (w) => writeString(w, name));
      return readDomain(r);
    } catch (err) {
      if (isDenied(err)) throw new LibvirtError(VIR_ERR.NO_DOMAIN, `Domain not found: no domain with matching name '${name}'`, { cause: err });
      throw err;
    }
  }

  /** Every domain the caller may see (CONNECT_LIST_ALL_DOMAINS, flags 0: active and inactive). */
  async listDomains(): Promise<RemoteDomain[]> {
    const r = await this.call(PROC.CONNECT_LIST_ALL_DOMAINS, (w) => w.int(1).uint(0));
    const domains = r.array(readDomain, DOMAIN_LIST_MAX);
    r.uint();
    return domains;
  }

  private async domainState(d: RemoteDomain): Promise<DomainState> {
    const r = await this.call(PROC.DOMAIN_GET_STATE, (w) => {
      writeDomain(w, d);
      w.uint(0);
    });
    return STATE_BY_NUMBER[r.int()] ?? 'unknown';
  }

  private async domainXml(d: RemoteDomain, opts: XmlOptions = {}): Promise<string> {
    const r = await this.call(PROC.DOMAIN_GET_XML_DESC, (w) => {
      writeDomain(w, d);
      w.uint(xmlFlags(opts));
    });
    return readString(r);
  }

  /** undefined for a domain gone meanwhile */
  private async orGone<T>(p: Promise<T>): Promise<T | undefined> {
    try {
      return await p;
    } catch (err) {
      if (isNoDomain(err)) return undefined;
      throw err;
    }
  }

  /** All states asked at once on the one connection. */
  async list(): Promise<DomainSummary[]> {
    const domains = await this.listDomains();
    const states = await Promise.all(domains.map((d) => this.orGone(this.domainState(d))));
    return domains.flatMap((d, i) => (states[i] === undefined ? [] : [{ name: d.name, state: states[i] }]));
  }

  async listWithXml<T>(parse: (xml: string) => T, opts: { inactive?: boolean } = {}): Promise<(DomainSummary & { parsed: T })[]> {
    const domains = await this.listDomains();
    const both = await Promise.all(domains.map((d) => this.orGone(Promise.all([this.domainState(d), this.domainXml(d, opts)]))));
    return domains.flatMap((d, i) => {
      const b = both[i];
      return b === undefined ? [] : [{ name: d.name, state: b[0], parsed: parse(b[1]) }];
    });
  }

  async dumpXml(name: string, opts: XmlOptions = {}): Promise<string> {
    return this.domainXml(await this.lookup(name), opts);
  }

  async dumpXmls(names: string[], opts: XmlOptions = {}): Promise<Map<string, string>> {
    const xmls = await Promise.all(names.map((n) => this.orGone(this.dumpXml(n, opts))));
    const out = new Map<string, string>();
    names.forEach((n, i) => {
      const xml = xmls[i];
      if (xml !== undefined) out.set(n, xml);
    });
    return out;
  }

  async state(name: string): Promise<DomainState | undefined> {
    return this.orGone(this.lookup(name).then((d) => this.domainState(d)));
  }

  async persistent(name: string): Promise<boolean | undefined> {
    return this.orGone(
      this.lookup(name).then(async (d) => {
        const r = await this.call(PROC.DOMAIN_IS_PERSISTENT, (w) => writeDomain(w, d));
        return r.int() === 1;
      }),
    );
  }

  async define(xml: string): Promise<void> {
    await this.call(PROC.DOMAIN_DEFINE_XML_FLAGS, (w) => {
      writeString(w, xml);
      w.uint(0);
    });
  }

  /** the flags virsh undefine passes for --nvram (and, with all, --managed-save --snapshots-metadata --checkpoints-metadata) */
  async undefine(name: string, opts: { all?: boolean } = {}): Promise<void> {
    const flags = UNDEFINE.NVRAM | (opts.all ? UNDEFINE.MANAGED_SAVE | UNDEFINE.SNAPSHOTS_METADATA | UNDEFINE.CHECKPOINTS_METADATA : 0);
    const d = await this.lookup(name);
    await this.call(PROC.DOMAIN_UNDEFINE_FLAGS, (w) => {
      writeDomain(w, d);
      w.uint(flags);
    });
  }

  private async onDomain(proc: number, name: string, withFlags: boolean): Promise<void> {
    const d = await this.lookup(name);
    await this.call(proc, (w) => {
      writeDomain(w, d);
      if (withFlags) w.uint(0);
    });
  }

  start(name: string): Promise<void> {
    return this.onDomain(PROC.DOMAIN_CREATE, name, false);
  }

  shutdown(name: string): Promise<void> {
    return this.onDomain(PROC.DOMAIN_SHUTDOWN, name, false);
  }

  destroy(name: string): Promise<void> {
    return this.onDomain(PROC.DOMAIN_DESTROY, name, false);
  }

  reboot(name: string): Promise<void> {
    return this.onDomain(PROC.DOMAIN_REBOOT, name, true);
  }

  reset(name: string): Promise<void> {
    return this.onDomain(PROC.DOMAIN_RESET, name, true);
  }

  /** libvirt's version number is major * 1,000,000 + minor * 1,000 + release */
  async version(): Promise<{ daemon: string | undefined }> {
    const n = (await this.call(PROC.CONNECT_GET_LIB_VERSION)).uhyper();
    return { daemon: `${n / 1000000n}.${(n / 1000n) % 1000n}.${n % 1000n}` };
  }

  async domainCapabilities(virtType: string, machine: string): Promise<string> {
    const r = await this.call(PROC.CONNECT_GET_DOMAIN_CAPABILITIES, (w) => {
      writeOptString(w, undefined);
      writeOptString(w, undefined);
      writeOptString(w, machine);
      writeOptString(w, virtType);
      w.uint(0);
    });
    return readString(r);
  }

  setMemoryLive(name: string, memoryMiB: number): Promise<void> {
    return this.virsh.setMemoryLive(name, memoryMiB);
  }

  blockResize(name: string, target: string, sizeBytes: number): Promise<void> {
    return this.virsh.blockResize(name, target, sizeBytes);
  }

  metadata(name: string, uri: string, where?: MetadataWhere): Promise<string> {
    return this.virsh.metadata(name, uri, where);
  }

  setMetadata(name: string, uri: string, key: string, xml: string, where?: MetadataWhere): Promise<void> {
    return this.virsh.setMetadata(name, uri, key, xml, where);
  }

  removeMetadata(name: string, uri: string, where?: MetadataWhere): Promise<void> {
    return this.virsh.removeMetadata(name, uri, where);
  }

  attachConsole(name: string): Promise<void> {
    return this.virsh.attachConsole(name);
  }

  openConsole(name: string): Promise<Duplex> {
    return this.virsh.openConsole(name);
  }
}

// The narrow hypervisor interface raptor's service and plan layers use, and libvirt's typed errors.
// Implementations: `virsh.ts` (the real host) and `fake-hypervisor.ts` (unit tests).
import type { Duplex } from 'node:stream';
import type { DomainState, DomainSummary } from '../core/host-types.ts';

export type { DomainState, DomainSummary } from '../core/host-types.ts';

/** libvirt's own virErrorNumber values (include/libvirt/virterror.h), the ones raptor tells apart. */
export const VIR_ERR = {
  INTERNAL_ERROR: 1,
  NO_SUPPORT: 3,
  NO_CONNECT: 5,
  INVALID_ARG: 8,
  OPERATION_FAILED: 9,
  XML_ERROR: 27,
  DOM_EXIST: 28,
  OPERATION_DENIED: 29,
  SYSTEM_ERROR: 38,
  NO_DOMAIN: 42,
  AUTH_FAILED: 45,
  OPERATION_INVALID: 55,
  CONFIG_UNSUPPORTED: 67,
  OPERATION_TIMEOUT: 68,
  ARGUMENT_UNSUPPORTED: 74,
  AUTH_CANCELLED: 79,
  NO_DOMAIN_METADATA: 80,
  OPERATION_UNSUPPORTED: 84,
  RESOURCE_BUSY: 87,
  ACCESS_DENIED: 88,
  AUTH_UNAVAILABLE: 94,
} as const;

/** libvirt's virErrorDomain values raptor names (where in libvirt an error was raised). */
export const VIR_FROM = { NONE: 0, QEMU: 10, REMOTE: 13, DOMAIN: 20, ACCESS: 55, POLKIT: 60 } as const;

/**
 * A failure libvirt reported. `code` is libvirt's virErrorNumber, undefined when the client could
 * not tell which (virsh printed a message libvirt's message table does not name); `domain` is
 * libvirt's virErrorDomain, VIR_FROM.NONE when the client does not report it (virsh does not).
 */
export class LibvirtError extends Error {
  readonly code: number | undefined;
  readonly domain: number;
  constructor(code: number | undefined, message: string, opts: { domain?: number; cause?: unknown } = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'LibvirtError';
    this.code = code;
    this.domain = opts.domain ?? VIR_FROM.NONE;
  }
}

/** The LibvirtError in err or its cause chain (a service error keeps libvirt's as its cause). */
export function libvirtErrorOf(err: unknown): LibvirtError | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof LibvirtError) return e;
  }
  return undefined;
}

const hasCode = (err: unknown, ...codes: number[]): boolean => {
  const code = libvirtErrorOf(err)?.code;
  return code !== undefined && codes.includes(code);
};

/** No such domain, or gone meanwhile. */
export const isNoDomain = (err: unknown): boolean => hasCode(err, VIR_ERR.NO_DOMAIN);
/** The caller may not do this: libvirt's ACL (polkit) refused, or a read-only connection. */
export const isDenied = (err: unknown): boolean => hasCode(err, VIR_ERR.ACCESS_DENIED, VIR_ERR.OPERATION_DENIED);
/** No identity libvirt accepts (no polkit agent, failed authentication). */
export const isAuthFailure = (err: unknown): boolean => hasCode(err, VIR_ERR.AUTH_FAILED, VIR_ERR.AUTH_UNAVAILABLE, VIR_ERR.AUTH_CANCELLED);
/** Not possible in the domain's current state (starting a running domain, stopping a shut-off one). */
export const isOperationInvalid = (err: unknown): boolean => hasCode(err, VIR_ERR.OPERATION_INVALID);
/** The domain has no metadata under that namespace. */
export const isNoMetadata = (err: unknown): boolean => hasCode(err, VIR_ERR.NO_DOMAIN_METADATA);
/** The daemon could not be reached. */
export const isNoConnect = (err: unknown): boolean => hasCode(err, VIR_ERR.NO_CONNECT);

export interface XmlOptions {
  /** the persistent definition, not the running one */
  inactive?: boolean;
  /** with secrets (VNC passwords, …) */
  securityInfo?: boolean;
}

/** Which definitions a metadata change touches (neither: libvirt's "current"). */
export interface MetadataWhere {
  config?: boolean;
  live?: boolean;
}

export interface Hypervisor {
  /** the libvirt connection URI, for messages and for what an admin would type */
  readonly uri: string;
  /** Every domain with its state. */
  list(): Promise<DomainSummary[]>;
  /** Every domain with its state and XML (parsed by `parse`); domains that vanish meanwhile are left out. */
  listWithXml<T>(parse: (xml: string) => T, opts?: { inactive?: boolean }): Promise<(DomainSummary & { parsed: T })[]>;
  /** Several domains' XML at once; a domain that vanished meanwhile is missing from the map. */
  dumpXmls(names: string[], opts?: XmlOptions): Promise<Map<string, string>>;
  dumpXml(name: string, opts?: XmlOptions): Promise<string>;
  /** undefined when there is no such domain (or the caller may not see it) */
  state(name: string): Promise<DomainState | undefined>;
  /** libvirt's persistent flag; undefined when there is no such domain */
  persistent(name: string): Promise<boolean | undefined>;
  define(xml: string): Promise<void>;
  /** undefine with the NVRAM; `all`: also a managed-save image and snapshot/checkpoint metadata, which would refuse it */
  undefine(name: string, opts?: { all?: boolean }): Promise<void>;
  start(name: string): Promise<void>;
  shutdown(name: string): Promise<void>;
  destroy(name: string): Promise<void>;
  reboot(name: string): Promise<void>;
  reset(name: string): Promise<void>;
  /** the running guest's memory (balloon), in MiB */
  setMemoryLive(name: string, memoryMiB: number): Promise<void>;
  /** tell the running guest its disk `target` (vda, …) is now `sizeBytes` */
  blockResize(name: string, target: string, sizeBytes: number): Promise<void>;
  /** the metadata element under namespace `uri`, as text */
  metadata(name: string, uri: string, where?: MetadataWhere): Promise<string>;
  setMetadata(name: string, uri: string, key: string, xml: string, where?: MetadataWhere): Promise<void>;
  removeMetadata(name: string, uri: string, where?: MetadataWhere): Promise<void>;
  /** the daemon's libvirt version (undefined: not reported) */
  version(): Promise<{ daemon: string | undefined }>;
  /** libvirt's domain capabilities XML for a virt type and machine */
  domainCapabilities(virtType: string, machine: string): Promise<string>;
  /** Hand this process's terminal to the domain's console until the user leaves (Ctrl+]). */
  attachConsole(name: string): Promise<void>;
  /** The domain's console as a byte stream (for a web console): write keys, read what the guest prints; destroy to leave. */
  openConsole(name: string): Promise<Duplex>;
}

// Domain XML model: build and parse, one function per element, fixed element order (after virt-manager's virtinst).
import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { RaptorError } from '../core/errors.ts';

export const RAPTOR_XMLNS = 'https://raptor.michai.li/xmlns/domain/1';

export interface DomainSpec {
  name: string;
  /** fixed by the planner, so the cloud-init seed can name it as its instance-id */
  uuid: string;
  type: 'kvm' | 'qemu';
  memoryMiB: number;
  /** host CPU for vCPU i; the VM has vcpuPins.length vCPUs */
  vcpuPins: number[];
  emulatorSet: number[];
  machine: string;
  firmware: { code: string; vars: string; nvram: string };
  disk: { path: string };
  /** the cloud-init seed image, attached read-only after the disk; null: none */
  seed: string | null;
  network: { bridge: string; mac: string } | null;
  console: 'virtio' | 'serial';
  /** virtlogd copies the console's output here, so scripts can read it without attaching */
  consoleLog: string | null;
  /** expires: ISO time after which `raptor vm reap` destroys the VM (absent: never) */
  metadata: { owner: string; bridge: string | null; createdAt: string; image?: string; flavor?: string; expires?: string };
}

type Node = Record<string, unknown>;
const A = (attrs: Record<string, string | number>): Node =>
  Object.fromEntries(Object.entries(attrs).map(([k, v]) => [`@_${k}`, String(v)]));

const cpuList = (cpus: readonly number[]): string => cpus.join(',');

function osElement(s: DomainSpec): Node {
  return {
    type: { ...A({ arch: 'x86_64', machine: s.machine }), '#text': 'hvm' },
    loader: { ...A({ readonly: 'yes', secure: 'yes', type: 'pflash' }), '#text': s.firmware.code },
    nvram: { ...A({ template: s.firmware.vars }), '#text': s.firmware.nvram },
    boot: A({ dev: 'hd' }),
  };
}

function cputuneElement(s: DomainSpec): Node {
  return {
    vcpupin: s.vcpuPins.map((cpu, vcpu) => A({ vcpu, cpuset: cpu })),
    emulatorpin: A({ cpuset: cpuList(s.emulatorSet) }),
  };
}

function metadataElement(s: DomainSpec): Node {
  return {
    'raptor:vm': {
      ...A({ 'xmlns:raptor': RAPTOR_XMLNS }),
      'raptor:owner': s.metadata.owner,
      ...(s.metadata.bridge ? { 'raptor:bridge': s.metadata.bridge } : {}),
      'raptor:created-at': s.metadata.createdAt,
      ...(s.metadata.image !== undefined ? { 'raptor:image': s.metadata.image } : {}),
      ...(s.metadata.flavor !== undefined ? { 'raptor:flavor': s.metadata.flavor } : {}),
      ...(s.metadata.expires ? { 'raptor:expires': s.metadata.expires } : {}),
    },
  };
}

function diskElement(s: DomainSpec): Node {
  return {
    ...A({ type: 'block', device: 'disk' }),
    driver: A({ name: 'qemu', type: 'raw', cache: 'none', io: 'native', discard: 'unmap' }),
    source: A({ dev: s.disk.path }),
    target: A({ dev: 'vda', bus: 'virtio' }),
  };
}

function seedElement(path: string): Node {
  return {
    ...A({ type: 'file', device: 'disk' }),
    driver: A({ name: 'qemu', type: 'raw' }),
    source: A({ file: path }),
    target: A({ dev: 'vdb', bus: 'virtio' }),
    readonly: '',
  };
}

function interfaceElement(net: NonNullable<DomainSpec['network']>): Node {
  return {
    ...A({ type: 'bridge' }),
    mac: A({ address: net.mac }),
    source: A({ bridge: net.bridge }),
    model: A({ type: 'virtio' }),
  };
}

function consoleElements(s: DomainSpec): Node {
  const log = s.consoleLog ? { log: A({ file: s.consoleLog, append: 'off' }) } : {};
  if (s.console === 'serial') {
    // the console is the serial port's alias: the log belongs on the serial device
    return {
      serial: { ...A({ type: 'pty' }), ...log, target: A({ port: 0 }) },
      console: { ...A({ type: 'pty' }), target: A({ type: 'serial', port: 0 }) },
    };
  }
  return { console: { ...A({ type: 'pty' }), ...log, target: A({ type: 'virtio', port: 0 }) } };
}

function devicesElement(s: DomainSpec): Node {
  return {
    disk: s.seed ? [diskElement(s), seedElement(s.seed)] : diskElement(s),
    ...(s.network ? { interface: interfaceElement(s.network) } : {}),
    ...consoleElements(s),
    video: { model: A({ type: 'none' }) },
    memballoon: A({ model: 'none' }),
  };
}

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  format: true,
  indentBy: '  ',
  suppressEmptyNode: true,
});

export function renderDomainXml(s: DomainSpec): string {
  const domain: Node = {
    ...A({ type: s.type }),
    name: s.name,
    uuid: s.uuid,
    metadata: metadataElement(s),
    memory: { ...A({ unit: 'MiB' }), '#text': s.memoryMiB },
    currentMemory: { ...A({ unit: 'MiB' }), '#text': s.memoryMiB },
    vcpu: { ...A({ placement: 'static' }), '#text': s.vcpuPins.length },
    cputune: cputuneElement(s),
    os: osElement(s),
    features: { acpi: '', smm: A({ state: 'on' }) },
    on_poweroff: 'destroy',
    on_reboot: 'restart',
    on_crash: 'destroy',
    devices: devicesElement(s),
  };
  return String(builder.build({ domain })).trimEnd() + '\n';
}

// ---- parsing -------------------------------------------------------------------------------

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  removeNSPrefix: false,
  isArray: (name) => ['vcpupin', 'disk', 'interface', 'console', 'serial'].includes(name),
});

const UNIT_BYTES: Record<string, number> = {
  b: 1, bytes: 1, k: 1024, kib: 1024, kb: 1000, m: 1024 ** 2, mib: 1024 ** 2, mb: 1e6,
  g: 1024 ** 3, gib: 1024 ** 3, gb: 1e9, t: 1024 ** 4, tib: 1024 ** 4,
};

const text = (n: unknown): string | undefined => {
  if (n === undefined || n === null) return undefined;
  if (typeof n === 'string' || typeof n === 'number') return String(n);
  const t = (n as Node)['#text'];
  return t === undefined ? undefined : String(t);
};
const attr = (n: unknown, name: string): string | undefined => {
  if (!n || typeof n !== 'object') return undefined;
  const v = (n as Node)[`@_${name}`];
  return v === undefined ? undefined : String(v);
};
const obj = (n: unknown): Node => (n && typeof n === 'object' ? (n as Node) : {});
const arr = (n: unknown): Node[] => (Array.isArray(n) ? n.map(obj) : n === undefined ? [] : [obj(n)]);

function parseCpuSet(set: string | undefined): number[] {
  if (!set) return [];
  const out: number[] = [];
  for (const part of set.split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || Number.isNaN(a)) continue;
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

/** Find raptor's metadata element whatever prefix libvirt (or an admin) gave its namespace. */
export interface RaptorMetadata {
  owner?: string;
  bridge?: string;
  createdAt?: string;
  expires?: string;
  /** set by `raptor vm adopt` on a domain made by hand */
  adoptedAt?: string;
  image?: string;
  flavor?: string;
}

function findRaptorMetadata(metadata: Node): RaptorMetadata | undefined {
  for (const [key, value] of Object.entries(metadata)) {
    const v = obj(value);
    const prefix = key.includes(':') ? key.slice(0, key.indexOf(':')) : '';
    const nsAttr = prefix ? `@_xmlns:${prefix}` : '@_xmlns';
    if (v[nsAttr] !== RAPTOR_XMLNS) continue;
    const child = (local: string) => text(v[prefix ? `${prefix}:${local}` : local]);
    const out: RaptorMetadata = {};
    const owner = child('owner');
    const bridge = child('bridge');
    const createdAt = child('created-at');
    const adoptedAt = child('adopted-at');
    if (adoptedAt !== undefined) out.adoptedAt = adoptedAt;
    if (owner !== undefined) out.owner = owner;
    if (bridge !== undefined) out.bridge = bridge;
    if (createdAt !== undefined) out.createdAt = createdAt;
    const image = child('image');
    const flavor = child('flavor');
    if (image !== undefined) out.image = image;
    if (flavor !== undefined) out.flavor = flavor;
    const expires = child('expires');
    if (expires !== undefined) out.expires = expires;
    return out;
  }
  return undefined;
}

/** What raptor reads from any domain's XML (raptor's or not). */
export interface ParsedDomain {
  name: string;
  uuid: string;
  type: string;
  memoryMiB: number;
  vcpuPins: number[];
  /** each <vcpupin> as written: which vCPU, which host CPUs */
  vcpuPinSets: { vcpu: number; cpus: number[] }[];
  /** vCPU count from <vcpu>, which may exceed the pins on unmanaged domains */
  vcpus: number;
  emulatorSet: number[];
  /** every host CPU this domain's vcpupin/emulatorpin/vcpu cpuset reserves */
  pinnedCpus: number[];
  machine: string;
  firmware: { code: string; vars: string; nvram: string; secure: boolean; pflash: boolean; readonly: boolean } | null;
  /** `<os firmware="efi">`: libvirt picks the firmware itself */
  osFirmware: string | null;
  smm: boolean;
  disks: { path: string; bus: string; type: string }[];
  /** the read-only file disk raptor attaches as the cloud-init seed, if any */
  seed: string | null;
  interfaces: { bridge: string; mac: string; model: string; type: string }[];
  console: 'virtio' | 'serial' | null;
  consoleLog: string | null;
  graphics: number;
  videoNone: boolean;
  metadata: RaptorMetadata | undefined;
}

export function parseDomainXml(xml: string): ParsedDomain {
  let doc: Node;
  try {
    doc = parser.parse(xml) as Node;
  } catch (err) {
    throw new RaptorError('unexpected', `cannot parse domain XML: ${(err as Error).message}`);
  }
  const d = obj(doc.domain);
  const name = text(d.name);
  if (!name) throw new RaptorError('unexpected', 'domain XML has no <name>');
  const memory = obj(d.memory);
  const memUnit = (attr(memory, 'unit') ?? 'KiB').toLowerCase();
  const memoryMiB = Math.round((Number(text(memory)) * (UNIT_BYTES[memUnit] ?? 1024)) / 1024 ** 2);
  const cputune = obj(d.cputune);
  const pins = arr(cputune.vcpupin)
    .map((p) => ({ vcpu: Number(attr(p, 'vcpu')), cpus: parseCpuSet(attr(p, 'cpuset')) }))
    .sort((a, b) => a.vcpu - b.vcpu);
  const vcpuPins = pins.map((p) => p.cpus[0]!).filter((c) => c !== undefined);
  const emulatorSet = parseCpuSet(attr(cputune.emulatorpin, 'cpuset'));
  const vcpuNode = d.vcpu;
  const pinnedCpus = [
    ...new Set([...pins.flatMap((p) => p.cpus), ...emulatorSet, ...parseCpuSet(attr(vcpuNode, 'cpuset'))]),
  ].sort((a, b) => a - b);
  const os = obj(d.os);
  const loader = os.loader;
  const nvram = os.nvram;
  const firmware =
    loader === undefined
      ? null
      : {
          code: text(loader) ?? '',
          vars: attr(nvram, 'template') ?? '',
          nvram: text(nvram) ?? '',
          secure: attr(loader, 'secure') === 'yes',
          pflash: attr(loader, 'type') === 'pflash',
          readonly: attr(loader, 'readonly') === 'yes',
        };
  const features = obj(d.features);
  const devices = obj(d.devices);
  const allDisks = arr(devices.disk).filter((x) => (attr(x, 'device') ?? 'disk') === 'disk');
  const isSeed = (x: Node) => attr(x, 'type') === 'file' && x.readonly !== undefined;
  const seedDisk = allDisks.find(isSeed);
  const disks = allDisks
    .filter((x) => !isSeed(x))
    .map((x) => ({
      path: attr(x.source, 'dev') ?? attr(x.source, 'file') ?? '',
      bus: attr(x.target, 'bus') ?? '',
      type: attr(x, 'type') ?? 'file',
    }));
  const interfaces = arr(devices.interface).map((x) => ({
    bridge: attr(x.source, 'bridge') ?? '',
    mac: (attr(x.mac, 'address') ?? '').toLowerCase(),
    model: attr(x.model, 'type') ?? '',
    type: attr(x, 'type') ?? '',
  }));
  const consoleTarget = attr(arr(devices.console)[0]?.target, 'type');
  const logged = [...arr(devices.console), ...arr(devices.serial)].map((c) => attr(c.log, 'file')).find((f) => f !== undefined);
  const video = devices.video;
  const videos = Array.isArray(video) ? video : video === undefined ? [] : [video];
  return {
    name,
    uuid: text(d.uuid) ?? '',
    type: attr(d, 'type') ?? '',
    memoryMiB,
    vcpuPins,
    vcpuPinSets: pins,
    vcpus: Number(text(vcpuNode) ?? vcpuPins.length),
    emulatorSet,
    pinnedCpus,
    machine: attr(os.type, 'machine') ?? '',
    firmware,
    osFirmware: attr(os, 'firmware') ?? null,
    smm: attr(features.smm, 'state') === 'on' || (features.smm !== undefined && attr(features.smm, 'state') === undefined),
    disks,
    seed: seedDisk ? (attr(seedDisk.source, 'file') ?? null) : null,
    interfaces,
    console: consoleTarget === 'virtio' ? 'virtio' : consoleTarget === 'serial' ? 'serial' : null,
    consoleLog: logged ?? null,
    graphics: arr(devices.graphics).length,
    videoNone: videos.length === 0 || videos.every((v) => attr(obj(v).model, 'type') === 'none'),
    metadata: findRaptorMetadata(obj(d.metadata)),
  };
}

/** The DomainSpec a parsed domain describes, when it has the shape raptor builds. */
export function specFromParsed(p: ParsedDomain): DomainSpec {
  const disk = p.disks[0];
  const net = p.interfaces[0];
  if (!p.firmware || !disk || !p.console || (p.type !== 'kvm' && p.type !== 'qemu')) {
    throw new RaptorError('unexpected', `domain ${p.name} does not have the shape raptor builds`);
  }
  const m = p.metadata;
  return {
    name: p.name,
    uuid: p.uuid,
    type: p.type,
    memoryMiB: p.memoryMiB,
    vcpuPins: p.vcpuPins,
    emulatorSet: p.emulatorSet,
    machine: p.machine,
    firmware: { code: p.firmware.code, vars: p.firmware.vars, nvram: p.firmware.nvram },
    disk: { path: disk.path },
    seed: p.seed,
    network: net ? { bridge: net.bridge, mac: net.mac } : null,
    console: p.console,
    consoleLog: p.consoleLog,
    metadata: {
      owner: m?.owner ?? '',
      bridge: m?.bridge ?? null,
      createdAt: m?.createdAt ?? '',
      ...(m?.image !== undefined ? { image: m.image } : {}),
      ...(m?.flavor !== undefined ? { flavor: m.flavor } : {}),
      ...(m?.expires ? { expires: m.expires } : {}),
    },
  };
}

// An in-memory Volumes (one VG) for unit tests of the service layer: LVs with sizes and tags,
// free space that creates use up, and lvcreate/lvremove's refusals. Nothing here touches the host.
import { RaptorError } from '../core/errors.ts';
import type { LogicalVolume, VolumeGroup } from '../core/host-types.ts';
import type { Volumes } from './volumes.ts';

type Method = 'create' | 'remove' | 'addTag' | 'delTag' | 'resize';

export class FakeVolumes implements Volumes {
  readonly lvMap = new Map<string, LogicalVolume>();
  /** every changing call, in order: "create guest-alice-web 1073741824 raptor_creating", … */
  readonly calls: string[] = [];
  private readonly failures = new Map<Method, Error>();

  constructor(
    readonly vgName: string,
    readonly sizeBytes: number,
    readonly extentBytes = 4 * 2 ** 20,
    readonly allocation = 'normal',
  ) {}

  /** Make the next call of `method` fail (once). */
  failNext(method: Method, err: Error = new RaptorError('unexpected', `command failed: lvm ${method} (injected)`)): void {
    this.failures.set(method, err);
  }

  private fail(method: Method): void {
    const err = this.failures.get(method);
    if (err) {
      this.failures.delete(method);
      throw err;
    }
  }

  private freeBytes(): number {
    return this.sizeBytes - [...this.lvMap.values()].reduce((s, l) => s + l.sizeBytes, 0);
  }

  private need(vg: string, name: string): LogicalVolume {
    const lv = vg === this.vgName ? this.lvMap.get(name) : undefined;
    if (!lv) throw new RaptorError('unexpected', `command failed: lvm: Failed to find logical volume "${vg}/${name}"`);
    return lv;
  }

  async vg(name: string): Promise<VolumeGroup | undefined> {
    if (name !== this.vgName) return undefined;
    return { name, sizeBytes: this.sizeBytes, freeBytes: this.freeBytes(), extentBytes: this.extentBytes, allocation: this.allocation };
  }

  async lvs(vg: string): Promise<LogicalVolume[]> {
    return vg === this.vgName ? [...this.lvMap.values()].map((l) => ({ ...l, tags: [...l.tags] })) : [];
  }

  async observe(vg: string): Promise<{ vg: VolumeGroup | undefined; lvs: LogicalVolume[] }> {
    return { vg: await this.vg(vg), lvs: await this.lvs(vg) };
  }

  async lv(vg: string, name: string): Promise<LogicalVolume | undefined> {
    return (await this.lvs(vg)).find((l) => l.name === name);
  }

  async create(vg: string, name: string, sizeBytes: number, tags: string[]): Promise<void> {
    this.fail('create');
    if (vg !== this.vgName) throw new RaptorError('unexpected', `command failed: lvm: Volume group "${vg}" not found`);
    if (this.lvMap.has(name)) throw new RaptorError('unexpected', `command failed: lvm: Logical Volume "${name}" already exists in volume group "${vg}"`);
    if (sizeBytes % this.extentBytes !== 0 || sizeBytes > this.freeBytes()) throw new RaptorError('unexpected', `command failed: lvm: Volume group "${vg}" has insufficient free space`);
    this.calls.push(`create ${name} ${sizeBytes} ${tags.join(',')}`);
    this.lvMap.set(name, { name, vg, sizeBytes, path: `/dev/${vg}/${name}`, tags: [...tags], open: false });
  }

  async addTag(vg: string, name: string, tag: string): Promise<void> {
    this.fail('addTag');
    const lv = this.need(vg, name);
    if (!lv.tags.includes(tag)) lv.tags.push(tag);
    this.calls.push(`addtag ${name} ${tag}`);
  }

  async delTag(vg: string, name: string, tag: string): Promise<void> {
    this.fail('delTag');
    const lv = this.need(vg, name);
    lv.tags = lv.tags.filter((t) => t !== tag);
    this.calls.push(`deltag ${name} ${tag}`);
  }

  async resize(vg: string, name: string, sizeBytes: number, opts: { shrink?: boolean } = {}): Promise<void> {
    this.fail('resize');
    const lv = this.need(vg, name);
    if (!opts.shrink && sizeBytes - lv.sizeBytes > this.freeBytes()) throw new RaptorError('unexpected', `command failed: lvm: Insufficient free space`);
    lv.sizeBytes = sizeBytes;
    this.calls.push(`resize ${name} ${sizeBytes}`);
  }

  async remove(vg: string, name: string): Promise<void> {
    this.fail('remove');
    this.need(vg, name);
    this.lvMap.delete(name);
    this.calls.push(`remove ${name}`);
  }
}

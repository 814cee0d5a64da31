// LVM through `lvm <command> --reportformat json`, parsed with LC_ALL=C (the runner sets it).
import type { FreePiece, LogicalVolume, UsedPiece, VolumeGroup } from '../core/host-types.ts';
import type { Runner } from '../host/runner.ts';
import type { Volumes } from './volumes.ts';

interface Report {
  report: { lv?: Record<string, string>[]; vg?: Record<string, string>[]; pvseg?: Record<string, string>[] }[];
}

const num = (s: string | undefined): number => Number((s ?? '').replace(/B$/, ''));

export class Lvm implements Volumes {
  constructor(
    private readonly run: Runner,
    private readonly lvmCommand: string,
  ) {}

  async vg(name: string): Promise<VolumeGroup | undefined> {
    const [r, segs] = await Promise.all([
      this.run([this.lvmCommand, 'vgs', '--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', 'vg_name,vg_size,vg_free,vg_extent_size,vg_allocation_policy', name], {
        timeoutMs: 60_000,
        okCodes: [0, 5],
      }),
      this.segments(name),
    ]);
    if (r.code !== 0) return undefined;
    const row = (JSON.parse(r.stdout) as Report).report[0]?.vg?.[0];
    if (!row) return undefined;
    return {
      name: row.vg_name!,
      sizeBytes: num(row.vg_size),
      freeBytes: num(row.vg_free),
      extentBytes: num(row.vg_extent_size),
      allocation: row.vg_allocation_policy ?? 'normal',
      ...segs,
    };
  }

  /** The VG's PV segments: free pieces (on allocatable, present PVs) and used ones, in extents. */
  async segments(vg: string): Promise<{ free: FreePiece[]; used: UsedPiece[] }> {
    const r = await this.run(
      [this.lvmCommand, 'pvs', '--segments', '--reportformat', 'json', '-o', 'pv_name,pv_allocatable,pv_missing,pvseg_start,pvseg_size,lv_name', '-S', `vg_name=${vg}`],
      { timeoutMs: 60_000, okCodes: [0, 5] },
    );
    return r.code === 0 ? parseSegments(r.stdout) : { free: [], used: [] };
  }

  /** The LVs of a VG; none when the VG does not exist (lvs exits 5). */
  async lvs(vg: string): Promise<LogicalVolume[]> {
    const out = await this.run([this.lvmCommand, 'lvs', '-o', 'lv_name,vg_name,lv_size,lv_path,lv_tags,lv_attr', '--reportformat', 'json', '--units', 'b', '--nosuffix', vg], {
      timeoutMs: 60_000,
      okCodes: [0, 5],
    });
    if (out.code !== 0) return [];
    return ((JSON.parse(out.stdout) as Report).report[0]?.lv ?? []).map(lvFromRow);
  }

  /** The VG and its LVs: two LVM processes, run side by side. */
  async observe(vg: string): Promise<{ vg: VolumeGroup | undefined; lvs: LogicalVolume[] }> {
    const [v, lvs] = await Promise.all([this.vg(vg), this.lvs(vg)]);
    return { vg: v, lvs };
  }

  async lv(vg: string, name: string): Promise<LogicalVolume | undefined> {
    return (await this.lvs(vg)).find((l) => l.name === name);
  }

  async create(vg: string, name: string, sizeBytes: number, tags: string[]): Promise<void> {
    await this.run(
      [this.lvmCommand, 'lvcreate', '--yes', '-L', `${sizeBytes}b`, '-n', name, ...tags.flatMap((t) => ['--addtag', t]), vg],
      { timeoutMs: 120_000 },
    );
  }

  async addTag(vg: string, name: string, tag: string): Promise<void> {
    await this.run([this.lvmCommand, 'lvchange', '--addtag', tag, `${vg}/${name}`], { timeoutMs: 60_000 });
  }

  async delTag(vg: string, name: string, tag: string): Promise<void> {
    await this.run([this.lvmCommand, 'lvchange', '--deltag', tag, `${vg}/${name}`], { timeoutMs: 60_000 });
  }

  /** Grow (or, to undo a grow the guest never saw, shrink back) an LV to exactly sizeBytes. */
  async resize(vg: string, name: string, sizeBytes: number, opts: { shrink?: boolean } = {}): Promise<void> {
    const argv = opts.shrink
      ? [this.lvmCommand, 'lvreduce', '--yes', '--force', '-L', `${sizeBytes}b`, `${vg}/${name}`]
      : [this.lvmCommand, 'lvextend', '-L', `${sizeBytes}b`, `${vg}/${name}`];
    await this.run(argv, { timeoutMs: 120_000 });
  }

  async remove(vg: string, name: string): Promise<void> {
    await this.run([this.lvmCommand, 'lvremove', '--yes', `${vg}/${name}`], { timeoutMs: 120_000 });
  }
}

function lvFromRow(row: Record<string, string>): LogicalVolume {
  return {
    name: row.lv_name!,
    vg: row.vg_name!,
    sizeBytes: num(row.lv_size),
    path: row.lv_path || `/dev/${row.vg_name}/${row.lv_name}`,
    tags: (row.lv_tags ?? '').split(',').filter(Boolean),
    open: (row.lv_attr ?? '').charAt(5) === 'o',
  };
}

/** `pvs --segments` rows: a row without an LV is free space; unallocatable or missing PVs give none. */
export function parseSegments(json: string): { free: FreePiece[]; used: UsedPiece[] } {
  const free: FreePiece[] = [];
  const used: UsedPiece[] = [];
  for (const row of (JSON.parse(json) as Report).report[0]?.pvseg ?? []) {
    const piece = { pv: row.pv_name!, startExtent: num(row.pvseg_start), extents: num(row.pvseg_size) };
    if (row.lv_name) used.push({ ...piece, lv: row.lv_name });
    else if (row.pv_allocatable === 'allocatable' && row.pv_missing !== 'missing' && piece.extents > 0) free.push(piece);
  }
  return { free, used };
}

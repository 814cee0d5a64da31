// In-memory HostFiles for unit tests: path -> text and mode; `failOnWrite` makes writes of one path throw.
import { RaptorError } from '../core/errors.ts';
import type { HostFiles, HostFileStat } from './host-files.ts';

export class FakeHostFiles implements HostFiles {
  readonly files = new Map<string, { text: string; mode: number; mtimeMs: number }>();
  readonly writes: string[] = [];
  failOnWrite: string | undefined;
  private clock = 1;

  put(path: string, text: string, mode = 0o644): void {
    this.files.set(path, { text, mode, mtimeMs: this.clock++ });
  }

  snapshot(): string {
    return JSON.stringify([...this.files].sort());
  }

  async read(path: string) {
    return this.files.get(path)?.text;
  }
  async write(path: string, text: string, mode: number) {
    if (this.failOnWrite === path) throw new RaptorError('unexpected', `injected failure: write ${path}`);
    this.writes.push(path);
    this.put(path, text, mode);
  }
  async remove(path: string) {
    this.writes.push(`rm ${path}`);
    this.files.delete(path);
  }
  async stat(path: string): Promise<HostFileStat | undefined> {
    const f = this.files.get(path);
    if (f) return { kind: 'file', mode: f.mode, uid: 0, gid: 0, mtimeMs: f.mtimeMs };
    const dir = `${path.replace(/\/$/, '')}/`;
    return [...this.files.keys()].some((p) => p.startsWith(dir)) ? { kind: 'directory', mode: 0o755, uid: 0, gid: 0, mtimeMs: 0 } : undefined;
  }
  async list(dir: string) {
    const pre = `${dir.replace(/\/$/, '')}/`;
    return [...new Set([...this.files.keys()].filter((p) => p.startsWith(pre)).map((p) => p.slice(pre.length).split('/')[0]!))].sort();
  }
}

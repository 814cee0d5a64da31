// Output for people (tables, progress) and for scripts (one JSON document on stdout).
import { formatSize } from '../core/size.ts';
import type { ProgressEvent, ProgressListener } from '../plan/events.ts';

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

type WipeBytes = Pick<Extract<ProgressEvent, { type: 'bytes' }>, 'done' | 'total'> & { phase: 'wipe' | 'verify' };

/**
 * Progress events as the CLI shows them on stderr: "done: STEP" for each finished step; the wipe
 * and its verification as a bar on a terminal, a line every 10% otherwise; qemu-img's percentage
 * on a terminal only. Started, undone and skipped steps print nothing (the error says what happened).
 */
export function progressPrinter(stream: NodeJS.WriteStream): ProgressListener {
  const wipe = wipeProgressReporter(stream);
  return (e) => {
    if (e.type === 'step') {
      if (e.status === 'finished') stream.write(`done: ${e.title}\n`);
    } else if (e.phase === 'image') {
      if (stream.isTTY) stream.write(`    (${((e.done / Math.max(1, e.total)) * 100).toFixed(2)}/100%)\r`);
    } else {
      wipe({ done: e.done, total: e.total, phase: e.phase });
    }
  };
}

/** Progress for the wipe: a redrawn bar on a terminal, a line every 10% otherwise. */
export function wipeProgressReporter(stream: NodeJS.WriteStream): (p: WipeBytes) => void {
  let started = Date.now();
  let lastPct = -10;
  let lastPhase = '';
  return (p) => {
    if (p.phase !== lastPhase) {
      // each phase has its own rate and ETA; the first report comes after the first step
      lastPct = -10;
      lastPhase = p.phase;
      started = Date.now() - 1;
    }
    const pct = Math.floor((p.done / p.total) * 100);
    const secs = Math.max(0.001, (Date.now() - started) / 1000);
    const rate = p.done / secs;
    const eta = rate > 0 ? Math.ceil((p.total - p.done) / rate) : 0;
    const label = p.phase;
    if (stream.isTTY) {
      const width = 30;
      const fill = Math.round((pct / 100) * width);
      stream.write(`\r${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${pct}% ${formatSize(p.done)}/${formatSize(p.total)} ${formatSize(rate)}/s ETA ${eta}s\x1b[K`);
      if (p.done >= p.total) stream.write('\n');
    } else if (pct >= lastPct + 10 || p.done >= p.total) {
      lastPct = pct;
      stream.write(`${label}: ${pct}% ${formatSize(p.done)} of ${formatSize(p.total)}, ${formatSize(rate)}/s, ETA ${eta}s\n`);
    }
  };
}

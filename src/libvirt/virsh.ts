// The libvirt client, through virsh: every admin has it and can replay what raptor did.
// Many commands go through one virsh process (separated by `;`), so listing N domains costs
// two processes, not N.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RaptorError, notFound } from '../core/errors.ts';
import { CommandError, type Runner } from '../host/runner.ts';

export type DomainState = 'running' | 'shut off' | 'paused' | 'in shutdown' | 'crashed' | 'pmsuspended' | 'idle' | 'unknown';

export interface DomainSummary {
  name: string;
  state: DomainState;
}

const SEP = '@@raptor-sep@@';

/** Quote one argument for virsh's own command-line parser (not a shell). */
export function virshQuote(arg: string): string {
  if (/^[A-Za-z0-9_.:/@+=-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export class Virsh {
  constructor(
    private readonly run: Runner,
    readonly uri: string,
  ) {}

  private argv(...args: string[]): string[] {
    return ['virsh', '--quiet', '--connect', this.uri, ...args];
  }

  async exec(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    try {
      return (await this.run(this.argv(...args), { timeoutMs: opts.timeoutMs ?? 120_000, ...(opts.input !== undefined ? { input: opts.input } : {}) })).stdout;
    } catch (err) {
      throw classifyVirshError(err);
    }
  }

  /** Every domain with its state, in one call (`domstats --state` is cheaper than `list --all`). */
  async listAll(): Promise<DomainSummary[]> {
    return parseDomstatsState(await this.exec(['domstats', '--state']));
  }

  /**
   * Every domain with its state and XML, through ONE virsh process: it lists the domains, and
   * the same process then dumps each one's XML. Domains that vanish in between are left out.
   */
  async listWithXml<T>(parse: (xml: string) => T, opts: { inactive?: boolean } = {}): Promise<(DomainSummary & { parsed: T })[]> {
    let summaries: DomainSummary[] = [];
    // each XML is parsed as it arrives, while virsh is still fetching the next one
    const parts: (T | undefined)[] = [];
    try {
      await this.run(this.argv(), {
        timeoutMs: 120_000,
        dialog: async (io) => {
          // in a session virsh echoes each command line after its prompt: the quotes keep the
          // marker out of that echo, so only the echo command's output matches it
          const echo = `echo "${SEP.slice(0, 8)}""${SEP.slice(8)}"\n`;
          io.write(`domstats --state\n${echo}`);
          const first = await io.until(SEP, 0);
          summaries = parseDomstatsState(first.text);
          let from = first.end;
          for (const d of summaries) {
            io.write(`dumpxml ${opts.inactive ? '--inactive ' : ''}${virshQuote(d.name)}\n${echo}`);
          }
          io.end();
          for (let i = 0; i < summaries.length; i++) {
            const part = await io.until(SEP, from);
            const start = part.text.indexOf('<domain');
            const end = part.text.lastIndexOf('</domain>');
            parts.push(start >= 0 && end > start ? parse(part.text.slice(start, end + '</domain>'.length)) : undefined);
            from = part.end;
          }
        },
      });
    } catch (err) {
      throw classifyVirshError(err);
    }
    return summaries.flatMap((d, i) => (parts[i] === undefined ? [] : [{ ...d, parsed: parts[i] as T }]));
  }

  async dumpXml(name: string, inactive = false): Promise<string> {
    return this.exec(['dumpxml', ...(inactive ? ['--inactive'] : []), name]);
  }

  async state(name: string): Promise<DomainState | undefined> {
    try {
      return normalizeState((await this.exec(['domstate', name])).trim());
    } catch (err) {
      if (err instanceof RaptorError && err.kind === 'not-found') return undefined;
      throw err;
    }
  }

  /** virsh reads the XML from a file; /dev/stdin fails when stdin is a socket, as Node's pipes are. */
  async define(xml: string): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'raptor-'));
    const file = join(dir, 'domain.xml');
    try {
      writeFileSync(file, xml, { mode: 0o600 });
      await this.exec(['define', file]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** undefine with the NVRAM; `all`: also a managed-save image and snapshot/checkpoint metadata, which would refuse it */
  async undefine(name: string, opts: { all?: boolean } = {}): Promise<void> {
    await this.exec(['undefine', '--nvram', ...(opts.all ? ['--managed-save', '--snapshots-metadata', '--checkpoints-metadata'] : []), name]);
  }

  /** libvirt's persistent flag (`dominfo`); undefined when there is no such domain. */
  async persistent(name: string): Promise<boolean | undefined> {
    try {
      const m = /^Persistent:\s*(\S+)/m.exec(await this.exec(['dominfo', name]));
      return m?.[1] === 'yes';
    } catch (err) {
      if (err instanceof RaptorError && err.kind === 'not-found') return undefined;
      throw err;
    }
  }

  async start(name: string): Promise<void> {
    await this.exec(['start', name]);
  }

  async shutdown(name: string): Promise<void> {
    await this.exec(['shutdown', name]);
  }

  async destroy(name: string): Promise<void> {
    await this.exec(['destroy', name]);
  }

  async reboot(name: string): Promise<void> {
    await this.exec(['reboot', name]);
  }

  async reset(name: string): Promise<void> {
    await this.exec(['reset', name]);
  }
}

// virDomainState numbers, as domstats prints them
const STATE_BY_NUMBER: DomainState[] = ['unknown', 'running', 'idle', 'paused', 'in shutdown', 'shut off', 'crashed', 'pmsuspended'];

export function parseDomstatsState(out: string): DomainSummary[] {
  const result: DomainSummary[] = [];
  for (const block of out.split(/^Domain: /m).slice(1)) {
    const name = /^'(.*)'$/m.exec(block)?.[1];
    const n = Number(/^\s*state\.state=(\d+)$/m.exec(block)?.[1]);
    if (name !== undefined) result.push({ name, state: STATE_BY_NUMBER[n] ?? 'unknown' });
  }
  return result;
}

export function normalizeState(s: string): DomainState {
  const t = s.trim().toLowerCase();
  const known: DomainState[] = ['running', 'shut off', 'paused', 'in shutdown', 'crashed', 'pmsuspended', 'idle'];
  return (known.find((k) => k === t) ?? 'unknown') as DomainState;
}

/** Map libvirt's error codes (in "error: ... " lines) to raptor's kinds without guessing from prose. */
export function classifyVirshError(err: unknown): unknown {
  if (!(err instanceof CommandError)) return err;
  const s = err.stderr;
  // virsh prints a generic first line ("failed to connect to the hypervisor") before the reason
  const generic = /^error: (failed to get domain|failed to connect to the hypervisor)/;
  const line = s.split('\n').find((l) => l.startsWith('error:') && !generic.test(l)) ?? s.split('\n').find((l) => l.startsWith('error:')) ?? '';
  // libvirt's VIR_ERR_NO_DOMAIN ("Domain not found") and VIR_ERR_OPERATION_DENIED ("access denied")
  if (/Domain not found|failed to get domain/.test(s)) {
    return notFound(line.replace(/^error:\s*/, '') || 'domain not found');
  }
  if (/access denied|authentication unavailable|Authorization not available|not authorized/i.test(s)) {
    return new RaptorError('not-allowed', `libvirt: ${line.replace(/^error:\s*/, '') || 'access denied'}`, { cause: err });
  }
  return err;
}

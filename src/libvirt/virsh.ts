// The libvirt client, through virsh: every admin has it and can replay what raptor did.
// Many commands go through one virsh process (separated by `;`), so listing N domains costs
// two processes, not N. This is the only module that reads virsh's output for errors: it turns
// them into LibvirtError with libvirt's own error numbers (hypervisor.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { DomainState, DomainSummary } from '../core/host-types.ts';
import { CommandError, openCommandStream, type Runner, type StreamOpener } from '../host/runner.ts';
import { isNoDomain, LibvirtError, VIR_ERR, type Hypervisor, type MetadataWhere, type XmlOptions } from './hypervisor.ts';

const SEP = '@@raptor-sep@@';
const MARK = '@@raptor-inactive@@';

/** Quote one argument for virsh's own command-line parser (not a shell). */
export function virshQuote(arg: string): string {
  if (/^[A-Za-z0-9_.:/@+=-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

const xmlFlags = (o: XmlOptions = {}): string[] => [...(o.inactive ? ['--inactive'] : []), ...(o.securityInfo ? ['--security-info'] : [])];
const whereFlags = (w: MetadataWhere = {}): string[] => [...(w.config ? ['--config'] : []), ...(w.live ? ['--live'] : [])];

export class Virsh implements Hypervisor {
  constructor(
    private readonly run: Runner,
    readonly uri: string,
    private readonly open: StreamOpener = openCommandStream,
  ) {}

  private argv(...args: string[]): string[] {
    return ['virsh', '--quiet', '--connect', this.uri, ...args];
  }

  private async exec(args: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
    try {
      return (await this.run(this.argv(...args), { timeoutMs: opts.timeoutMs ?? 120_000 })).stdout;
    } catch (err) {
      throw libvirtErrorFromVirsh(err);
    }
  }

  /** Every domain with its state, in one call (`domstats --state` is cheaper than `list --all`). */
  async list(): Promise<DomainSummary[]> {
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
      throw libvirtErrorFromVirsh(err);
    }
    return summaries.flatMap((d, i) => (parts[i] === undefined ? [] : [{ ...d, parsed: parts[i] as T }]));
  }

  async dumpXml(name: string, opts: XmlOptions = {}): Promise<string> {
    return this.exec(['dumpxml', ...xmlFlags(opts), name]);
  }

  /** The XML of several domains through one virsh process; domains gone meanwhile are left out. */
  async dumpXmls(names: string[], opts: XmlOptions = {}): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (!names.length) return out;
    const flags = xmlFlags(opts).join(' ');
    const script = names.map((n) => `dumpxml ${flags} ${virshQuote(n)}`).join(` ; echo ${MARK} ; `);
    let parts: string[];
    try {
      parts = (await this.exec([script])).split(MARK);
    } catch {
      // one domain vanished: ask each alone
      parts = await Promise.all(names.map((n) => this.dumpXml(n, opts).catch(() => '')));
    }
    names.forEach((n, i) => {
      const xml = parts[i] ?? '';
      if (xml.includes('<domain')) out.set(n, xml.slice(xml.indexOf('<domain')));
    });
    return out;
  }

  async state(name: string): Promise<DomainState | undefined> {
    try {
      return normalizeState((await this.exec(['domstate', name])).trim());
    } catch (err) {
      if (isNoDomain(err)) return undefined;
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
      if (isNoDomain(err)) return undefined;
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

  async setMemoryLive(name: string, memoryMiB: number): Promise<void> {
    await this.exec(['setmem', name, `${memoryMiB}M`, '--live']);
  }

  async blockResize(name: string, target: string, sizeBytes: number): Promise<void> {
    await this.exec(['blockresize', name, target, '--size', `${sizeBytes}B`]);
  }

  async metadata(name: string, uri: string, where: MetadataWhere = {}): Promise<string> {
    return this.exec(['metadata', name, uri, ...whereFlags(where)]);
  }

  async setMetadata(name: string, uri: string, key: string, xml: string, where: MetadataWhere = {}): Promise<void> {
    await this.exec(['metadata', name, '--uri', uri, '--key', key, '--set', xml, ...whereFlags(where)]);
  }

  async removeMetadata(name: string, uri: string, where: MetadataWhere = {}): Promise<void> {
    await this.exec(['metadata', name, '--uri', uri, '--remove', ...whereFlags(where)]);
  }

  async version(): Promise<{ daemon: string | undefined }> {
    const out = await this.exec(['version', '--daemon']);
    return { daemon: /Running against daemon:\s*(.+)/.exec(out)?.[1]?.trim() };
  }

  async domainCapabilities(virtType: string, machine: string): Promise<string> {
    return this.exec(['domcapabilities', '--virttype', virtType, '--machine', machine]);
  }

  /** virsh console on this process's terminal; virsh itself reports a refusal there. */
  async attachConsole(name: string): Promise<void> {
    await this.run(['virsh', '--connect', this.uri, 'console', name], { interactive: true });
  }

  /**
   * virsh console on a pseudo-terminal (virsh refuses a console without one), made by script(1)
   * so no native addon is needed. The shell line script runs is fixed; the URI and the domain
   * reach it through the environment, never spliced into it. `--force` takes the console over
   * from a stale session.
   */
  async openConsole(name: string): Promise<Duplex> {
    if ((await this.state(name)) === undefined) throw new LibvirtError(VIR_ERR.NO_DOMAIN, `Domain not found: no domain with matching name '${name}'`);
    const line = 'exec virsh --connect "$RAPTOR_VIRSH_URI" console "$RAPTOR_VIRSH_DOMAIN" --force';
    const { stream } = this.open(['script', '--quiet', '--flush', '--return', '--echo', 'never', '--command', line, '/dev/null'], {
      env: { RAPTOR_VIRSH_URI: this.uri, RAPTOR_VIRSH_DOMAIN: name, SHELL: '/bin/sh' },
      // Ctrl+], virsh console's escape: it detaches and exits, freeing the console for the next session
      farewell: '\x1d',
    });
    return stream;
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

/**
 * libvirt's message for each code starts with a fixed text (its virerror.c message table); virsh
 * prints that message after "error: ". Two polkit phrasings are named too.
 */
const MESSAGE_CODES: [RegExp, number][] = [
  [/^Domain not found\b/, VIR_ERR.NO_DOMAIN],
  [/^access denied\b|not authorized/i, VIR_ERR.ACCESS_DENIED],
  [/^operation forbidden\b/, VIR_ERR.OPERATION_DENIED],
  [/^authentication unavailable\b|Authorization not available/i, VIR_ERR.AUTH_UNAVAILABLE],
  [/^authentication failed\b/, VIR_ERR.AUTH_FAILED],
  [/^authentication cancelled\b/, VIR_ERR.AUTH_CANCELLED],
  [/^Requested operation is not valid\b/, VIR_ERR.OPERATION_INVALID],
  [/^metadata not found\b/, VIR_ERR.NO_DOMAIN_METADATA],
  [/^internal error\b/, VIR_ERR.INTERNAL_ERROR],
  [/^operation failed\b/, VIR_ERR.OPERATION_FAILED],
  [/^unsupported configuration\b/, VIR_ERR.CONFIG_UNSUPPORTED],
  [/^XML error\b|^XML description is invalid/, VIR_ERR.XML_ERROR],
  [/^this domain exists already|^domain .* exists already/, VIR_ERR.DOM_EXIST],
  [/^Operation not supported\b/, VIR_ERR.OPERATION_UNSUPPORTED],
  [/^argument unsupported\b/, VIR_ERR.ARGUMENT_UNSUPPORTED],
  [/^invalid argument\b/, VIR_ERR.INVALID_ARG],
  [/^Timed out during operation\b/, VIR_ERR.OPERATION_TIMEOUT],
  [/^resource busy\b/, VIR_ERR.RESOURCE_BUSY],
];

/** virsh's own first lines, printed before libvirt's reason (when it kept one). */
const VIRSH_GENERIC = /^(failed to get domain|failed to connect to the hypervisor)/;

/**
 * A failed virsh run as the LibvirtError it reports ("error: …" lines on stderr); anything else
 * (virsh missing, killed, timed out) stays as it is.
 */
export function libvirtErrorFromVirsh(err: unknown): unknown {
  if (!(err instanceof CommandError)) return err;
  const lines = err.stderr
    .split('\n')
    .filter((l) => l.startsWith('error:'))
    .map((l) => l.replace(/^error:\s*/, ''));
  if (!lines.length) return err;
  const codeOf = (l: string) => MESSAGE_CODES.find(([re]) => re.test(l))?.[1];
  // libvirt's own message is the line that names a code; virsh's context lines ("Failed to start
  // domain X") come before it
  const reason = lines.find((l) => codeOf(l) !== undefined) ?? lines.find((l) => !VIRSH_GENERIC.test(l)) ?? lines[0]!;
  // virsh looks a name up as id, UUID and name and drops libvirt's reason when all fail; one the
  // caller may not see fails the same way: for the caller, no such domain
  const lookupFailed = lines.some((l) => l.startsWith('failed to get domain'));
  return new LibvirtError(lookupFailed ? VIR_ERR.NO_DOMAIN : codeOf(reason), reason, { cause: err });
}

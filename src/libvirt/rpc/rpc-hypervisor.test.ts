// RpcHypervisor on a stand-in transport that decodes each call's arguments and answers as
// libvirtd would: what goes on the wire for each method, and how replies become results.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isNoDomain, LibvirtError, VIR_ERR, VIR_FROM } from '../hypervisor.ts';
import type { RpcTransport } from './client.ts';
import { DOMAIN_XML, PROC, readDomain, readOptString, readString, UNDEFINE, writeDomain, writeString, type RemoteDomain } from './protocol.ts';
import { RpcHypervisor, type VirshDelegated } from './rpc-hypervisor.ts';
import { XdrReader, XdrWriter } from './xdr.ts';

const dom = (name: string, id: number): RemoteDomain => ({ name, uuid: Buffer.alloc(16, name.length), id });
const noDomain = (name: string) => new LibvirtError(VIR_ERR.NO_DOMAIN, `Domain not found: no domain with matching name '${name}'`, { domain: VIR_FROM.QEMU });

class StandIn implements RpcTransport {
  readonly uri = 'qemu:///system';
  readonly seen: { proc: number; args: XdrReader }[] = [];
  // gt-b vanishes between the list and its state
  domains = [dom('gt-a', 3), dom('gt-b', -1), dom('gt-c', -1)];
  states: Record<string, number> = { 'gt-a': 1, 'gt-c': 5 };
  hidden = new Set(['bob-x']);
  libVersion = 9000000n;

  call(proc: number, payload?: Buffer): Promise<Buffer> {
    const args = new XdrReader(payload ?? Buffer.alloc(0));
    this.seen.push({ proc, args: new XdrReader(payload ?? Buffer.alloc(0)) });
    const w = new XdrWriter();
    const known = (d: RemoteDomain) => {
      if (!(d.name in this.states)) throw noDomain(d.name);
    };
    try {
      switch (proc) {
        case PROC.CONNECT_LIST_ALL_DOMAINS:
          w.array(this.domains, writeDomain).uint(this.domains.length);
          break;
        case PROC.DOMAIN_LOOKUP_BY_NAME: {
          const name = readString(args);
          if (this.hidden.has(name)) throw new LibvirtError(VIR_ERR.ACCESS_DENIED, "access denied: 'polkit' denies access", { domain: VIR_FROM.ACCESS });
          const d = this.domains.find((x) => x.name === name);
          if (!d || !(name in this.states)) throw noDomain(name);
          writeDomain(w, d);
          break;
        }
        case PROC.DOMAIN_GET_STATE: {
          const d = readDomain(args);
          known(d);
          w.int(this.states[d.name]!).int(0);
          break;
        }
        case PROC.DOMAIN_GET_XML_DESC: {
          const d = readDomain(args);
          known(d);
          writeString(w, `<domain><name>${d.name}</name><flags>${args.uint()}</flags></domain>`);
          break;
        }
        case PROC.DOMAIN_IS_PERSISTENT:
          known(readDomain(args));
          w.int(1);
          break;
        case PROC.CONNECT_GET_LIB_VERSION:
          w.uhyper(this.libVersion);
          break;
        case PROC.CONNECT_GET_DOMAIN_CAPABILITIES:
          writeString(w, '<domainCapabilities/>');
          break;
        default:
          break;
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return Promise.resolve(w.toBuffer());
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  last(proc: number): XdrReader {
    const s = this.seen.filter((x) => x.proc === proc).at(-1);
    assert.ok(s, `no call ${proc}`);
    return s.args;
  }
}

const noVirsh = new Proxy({} as Pick<import('../hypervisor.ts').Hypervisor, VirshDelegated>, {
  get: (_t, prop) => () => Promise.reject(new Error(`virsh.${String(prop)} not expected`)),
});

test('list: every domain with its state, asked all at once; one gone meanwhile is left out', async () => {
  const t = new StandIn();
  const hv = new RpcHypervisor(t, noVirsh);
  assert.deepEqual(await hv.list(), [
    { name: 'gt-a', state: 'running' },
    { name: 'gt-c', state: 'shut off' },
  ]);
  const la = t.last(PROC.CONNECT_LIST_ALL_DOMAINS);
  assert.deepEqual([la.int(), la.uint()], [1, 0]);
});

test('listWithXml passes the inactive flag and parses each XML', async () => {
  const t = new StandIn();
  const hv = new RpcHypervisor(t, noVirsh);
  const rows = await hv.listWithXml((x) => /<flags>(\d+)<\/flags>/.exec(x)?.[1], { inactive: true });
  assert.deepEqual(rows, [
    { name: 'gt-a', state: 'running', parsed: String(DOMAIN_XML.INACTIVE) },
    { name: 'gt-c', state: 'shut off', parsed: String(DOMAIN_XML.INACTIVE) },
  ]);
  const xmls = await hv.dumpXmls(['gt-a', 'gt-b', 'nope'], { securityInfo: true });
  assert.deepEqual([...xmls.keys()], ['gt-a']);
  assert.match(xmls.get('gt-a')!, /<flags>1<\/flags>/);
});

test("a missing domain: state and persistent are undefined, the rest throw libvirt's NO_DOMAIN; a hidden one is missing too", async () => {
  const hv = new RpcHypervisor(new StandIn(), noVirsh);
  assert.equal(await hv.state('nope'), undefined);
  assert.equal(await hv.persistent('nope'), undefined);
  assert.equal(await hv.persistent('gt-a'), true);
  assert.equal(await hv.state('bob-x'), undefined);
  for (const op of [() => hv.dumpXml('nope'), () => hv.start('nope'), () => hv.undefine('bob-x'), () => hv.destroy('bob-x')]) {
    const err = await op().catch((e: unknown) => e);
    assert.ok(isNoDomain(err), String(err));
  }
});

test('undefine sends the NVRAM flag, and with all the managed-save, snapshot and checkpoint flags too', async () => {
  const t = new StandIn();
  const hv = new RpcHypervisor(t, noVirsh);
  await hv.undefine('gt-c');
  let a = t.last(PROC.DOMAIN_UNDEFINE_FLAGS);
  assert.equal(readDomain(a).name, 'gt-c');
  assert.equal(a.uint(), UNDEFINE.NVRAM);
  await hv.undefine('gt-c', { all: true });
  a = t.last(PROC.DOMAIN_UNDEFINE_FLAGS);
  readDomain(a);
  assert.equal(a.uint(), 4 | 1 | 2 | 16);
});

test('lifecycle calls: the procedure and the domain found by name (flags 0 where the call has them)', async () => {
  const t = new StandIn();
  const hv = new RpcHypervisor(t, noVirsh);
  const cases: [() => Promise<void>, number, boolean][] = [
    [() => hv.start('gt-c'), PROC.DOMAIN_CREATE, false],
    [() => hv.shutdown('gt-a'), PROC.DOMAIN_SHUTDOWN, false],
    [() => hv.destroy('gt-a'), PROC.DOMAIN_DESTROY, false],
    [() => hv.reboot('gt-a'), PROC.DOMAIN_REBOOT, true],
    [() => hv.reset('gt-a'), PROC.DOMAIN_RESET, true],
  ];
  for (const [op, proc, flags] of cases) {
    await op();
    const a = t.last(proc);
    assert.ok(readDomain(a).name.startsWith('gt-'));
    if (flags) assert.equal(a.uint(), 0);
    assert.equal(a.remaining, 0, `call ${proc} carries nothing more`);
  }
  await hv.define('<domain/>');
  const d = t.last(PROC.DOMAIN_DEFINE_XML_FLAGS);
  assert.equal(readString(d), '<domain/>');
  assert.equal(d.uint(), 0);
});

test('version and domain capabilities', async () => {
  const t = new StandIn();
  const hv = new RpcHypervisor(t, noVirsh);
  assert.deepEqual(await hv.version(), { daemon: '9.0.0' });
  t.libVersion = 10002003n;
  assert.deepEqual(await hv.version(), { daemon: '10.2.3' });
  assert.equal(await hv.domainCapabilities('qemu', 'q35'), '<domainCapabilities/>');
  const a = t.last(PROC.CONNECT_GET_DOMAIN_CAPABILITIES);
  assert.deepEqual([readOptString(a), readOptString(a), readOptString(a), readOptString(a), a.uint()], [undefined, undefined, 'q35', 'qemu', 0]);
});

test('consoles, metadata, setmem and blockresize go to virsh', async () => {
  const calls: string[] = [];
  const virsh = new Proxy({} as Pick<import('../hypervisor.ts').Hypervisor, VirshDelegated>, {
    get:
      (_t, prop) =>
      (...args: unknown[]) => {
        calls.push(`${String(prop)}(${args.map(String).join(',')})`);
        return Promise.resolve(prop === 'metadata' ? '<m/>' : undefined);
      },
  });
  const t = new StandIn();
  const hv = new RpcHypervisor(t, virsh);
  await hv.setMemoryLive('gt-a', 512);
  await hv.blockResize('gt-a', 'vda', 1024);
  assert.equal(await hv.metadata('gt-a', 'urn:x'), '<m/>');
  await hv.setMetadata('gt-a', 'urn:x', 'r', '<r/>');
  await hv.removeMetadata('gt-a', 'urn:x');
  await hv.attachConsole('gt-a');
  await hv.openConsole('gt-a');
  assert.deepEqual(calls, [
    'setMemoryLive(gt-a,512)',
    'blockResize(gt-a,vda,1024)',
    'metadata(gt-a,urn:x,undefined)',
    'setMetadata(gt-a,urn:x,r,<r/>,undefined)',
    'removeMetadata(gt-a,urn:x,undefined)',
    'attachConsole(gt-a)',
    'openConsole(gt-a)',
  ]);
  assert.equal(t.seen.length, 0, 'nothing went over the protocol');
});

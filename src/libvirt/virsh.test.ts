import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RaptorError } from '../core/errors.ts';
import { CommandError } from '../host/runner.ts';
import { raptorErrorOf } from '../service/host-errors.ts';
import { isDenied, isNoDomain, isOperationInvalid, LibvirtError, VIR_ERR } from './hypervisor.ts';
import { libvirtErrorFromVirsh, parseDomstatsState, virshQuote } from './virsh.ts';

test('domstats --state output becomes names and states', () => {
  const out = "Domain: 'alice-web'\n  state.state=1\n  state.reason=1\n\nDomain: 'it''s'\n  state.state=5\n  state.reason=0\n\nDomain: 'bob-db'\n  state.state=3\n  state.reason=1\n";
  assert.deepEqual(parseDomstatsState(out), [
    { name: 'alice-web', state: 'running' },
    { name: "it''s", state: 'shut off' },
    { name: 'bob-db', state: 'paused' },
  ]);
  assert.deepEqual(parseDomstatsState(''), []);
});

test('virsh arguments are quoted for its own parser', () => {
  assert.equal(virshQuote('alice-web'), 'alice-web');
  assert.equal(virshQuote("a b'c"), `'a b'\\''c'`);
});

const failed = (stderr: string) => new CommandError(['virsh', '--quiet', 'start', 'alice-web'], 1, stderr);

test("virsh's error lines become libvirt's error numbers", () => {
  const code = (stderr: string) => (libvirtErrorFromVirsh(failed(stderr)) as LibvirtError).code;
  assert.equal(code("error: failed to get domain 'bob-b'\n"), VIR_ERR.NO_DOMAIN);
  // a refused lookup is a missing domain for the caller, whatever reason follows
  assert.equal(code("error: failed to get domain 'bob-b'\nerror: access denied: 'polkit' denies access\n"), VIR_ERR.NO_DOMAIN);
  assert.equal(code("error: Failed to start domain 'alice-web'\nerror: Domain not found: no domain with matching uuid\n"), VIR_ERR.NO_DOMAIN);
  assert.equal(code("error: Failed to start domain 'alice-web'\nerror: access denied: 'polkit' denies access to 'domain.start'\n"), VIR_ERR.ACCESS_DENIED);
  assert.equal(code('error: failed to connect to the hypervisor\nerror: authentication unavailable: no polkit agent available to authenticate action\n'), VIR_ERR.AUTH_UNAVAILABLE);
  assert.equal(code("error: Failed to start domain 'alice-web'\nerror: Requested operation is not valid: domain is already running\n"), VIR_ERR.OPERATION_INVALID);
  assert.equal(code('error: operation forbidden: read only access prevents virDomainCreate\n'), VIR_ERR.OPERATION_DENIED);
  assert.equal(code('error: metadata not found: Requested metadata element is not present\n'), VIR_ERR.NO_DOMAIN_METADATA);
  assert.equal(code('error: something libvirt says in words raptor does not know\n'), undefined);
  // not libvirt speaking (virsh missing, killed): left as the runner's error
  const killed = new CommandError(['virsh'], null, '', 'killed by SIGKILL');
  assert.equal(libvirtErrorFromVirsh(killed), killed);
  const e = libvirtErrorFromVirsh(failed("error: Failed to start domain 'alice-web'\nerror: Requested operation is not valid: domain is already running\n")) as LibvirtError;
  assert.equal(e.message, 'Requested operation is not valid: domain is already running');
  assert.ok(isOperationInvalid(e) && !isNoDomain(e) && !isDenied(e));
});

test('libvirt errors become raptor kinds in one place, keeping the message a user saw before', () => {
  const kindOf = (stderr: string) => raptorErrorOf(libvirtErrorFromVirsh(failed(stderr))) as RaptorError;
  const nf = kindOf("error: failed to get domain 'bob-b'\n");
  assert.equal(nf.kind, 'not-found');
  assert.equal(nf.message, "failed to get domain 'bob-b'");
  assert.ok(isNoDomain(nf), 'the predicate sees the code through the cause');
  const denied = kindOf("error: Failed to start domain 'alice-web'\nerror: access denied: 'polkit' denies access\n");
  assert.equal(denied.kind, 'not-allowed');
  assert.equal(denied.message, "libvirt: access denied: 'polkit' denies access");
  assert.equal(kindOf('error: failed to connect to the hypervisor\nerror: authentication unavailable: no agent\n').kind, 'not-allowed');
  const other = kindOf("error: Failed to start domain 'alice-web'\nerror: internal error: qemu died\n");
  assert.equal(other.kind, 'unexpected');
  assert.match(other.message, /^command failed: virsh --quiet start alice-web: exited with code 1: error: internal error: qemu died$/);
});

// newVmRequest: one translation of a create request's fields, for the CLI's flags and the API's body.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../core/config.ts';
import { FakeHypervisor } from '../libvirt/fake-hypervisor.ts';
import { FakeVolumes } from '../storage/fake-volumes.ts';
import { parsePublicKey } from '../access/ssh-keys.ts';
import { createContext } from './vm.ts';
import { newVmRequest } from './vm-request.ts';

const config = parseConfigText('[[flavors]]\nname = "small"\ncpus = 2\nmemory = "1G"\ndisk = "4G"\n', 'test.toml');
const ctx = createContext(config, 'test', { user: 'root', uid: 0, gid: 0, groups: ['root'], via: 'http' }, async () => {
  throw new Error('no process may run');
}, { hv: new FakeHypervisor(), volumes: new FakeVolumes(config.storage.vg, 2 ** 34), privileged: true });
const vm = { user: 'alice', name: 'web' };
const key = parsePublicKey('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG2fVuOcG3PRtDnbkYLZBgkAyEYm3UT8Ip7xBDwOUGmb alice@laptop');

test('newVmRequest: a flavour gives the sizes a request leaves out; a field given wins', async () => {
  const r = await newVmRequest(ctx, vm, { flavor: 'small', memory: '2G', start: true }, { sshKeys: [], imagePaths: false });
  assert.equal(r.cpus, 2);
  assert.equal(r.memoryBytes, 2 * 1024 ** 3);
  assert.equal(r.diskBytes, 4 * 1024 ** 3);
  assert.equal(r.start, true);
  assert.deepEqual(r.madeFrom, { flavor: 'small' });
  assert.equal(typeof r.cloudInit, 'function');
  assert.equal(r.account, undefined);
});

test('newVmRequest: keys make the host account part of the plan; no cloud-init means no seed', async () => {
  const r = await newVmRequest(ctx, vm, { flavor: 'small', start: false, cloudInit: false, addExisting: true }, { sshKeys: [key], imagePaths: false });
  assert.deepEqual(r.account, { keys: [key], addExisting: true });
  assert.equal(r.cloudInit, undefined);
});

test('newVmRequest refuses what does not fit, as bad input', async () => {
  await assert.rejects(newVmRequest(ctx, vm, { flavor: 'small', bridge: 'br-vm1', network: false, start: false }, { sshKeys: [], imagePaths: true }), { kind: 'bad-input', message: /--bridge and --no-network/ });
  await assert.rejects(newVmRequest(ctx, vm, { flavor: 'nope', start: false }, { sshKeys: [], imagePaths: true }), { kind: 'bad-input', message: /flavour nope not found/ });
  // a web request may name catalogue images only: the server reads no file a request names
  await assert.rejects(newVmRequest(ctx, vm, { flavor: 'small', image: '/etc/shadow', start: false }, { sshKeys: [], imagePaths: false }), { kind: 'bad-input', message: /not in the catalogue/ });
  await assert.rejects(newVmRequest(ctx, vm, { flavor: 'small', start: false, cloudInit: false }, { sshKeys: [], userData: {}, imagePaths: true }), { kind: 'bad-input', message: /--user-data and --no-cloud-init/ });
});

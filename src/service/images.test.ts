import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../core/config.ts';
import { RaptorError } from '../core/errors.ts';
import { resolveSizes } from './images.ts';

const config = parseConfigText('[[flavors]]\nname = "small"\ncpus = 1\nmemory = "1G"\ndisk = "2G"\n', 't');
const badInput = (re: RegExp) => (e: unknown) => e instanceof RaptorError && e.kind === 'bad-input' && re.test(e.message);

test('--flavor fills what the flags do not give; a flag given wins', () => {
  assert.deepEqual(resolveSizes(config, { flavor: 'small' }), { cpus: 1, memoryBytes: 2 ** 30, diskBytes: 2 * 2 ** 30, flavor: 'small' });
  assert.deepEqual(resolveSizes(config, { flavor: 'small', cpus: 2, disk: '4G' }), { cpus: 2, memoryBytes: 2 ** 30, diskBytes: 4 * 2 ** 30, flavor: 'small' });
  assert.deepEqual(resolveSizes(config, { cpus: 1, memory: '512M', disk: '1G' }), { cpus: 1, memoryBytes: 512 * 2 ** 20, diskBytes: 2 ** 30 });
});

test('without a flavour every size is required; an unknown flavour is bad input', () => {
  assert.throws(() => resolveSizes(config, { cpus: 1, memory: '1G' }), badInput(/--disk is required/));
  assert.throws(() => resolveSizes(config, { memory: '1G', disk: '1G' }), badInput(/--cpus is required/));
  assert.throws(() => resolveSizes(config, { flavor: 'huge' }), badInput(/flavour huge not found \(configured: small\)/));
  assert.throws(() => resolveSizes(config, { flavor: 'small', memory: 'lots' }), badInput(/invalid memory size/));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from './config.ts';
import { RaptorError } from './errors.ts';
import { checkQuota, quotaFor, usageByUser } from './quota.ts';

const GiB = 2 ** 30;
const config = parseConfigText('[quotas]\nvms = 2\nvcpus = 4\nmemory = "8G"\n[quotas.users.bob]\nvcpus = 16\ndisk = "100G"\n', 't');

test('quotas: defaults, and per-user keys over them', () => {
  assert.deepEqual(quotaFor(config, 'alice'), { vms: 2, vcpus: 4, memoryBytes: 8 * GiB, diskBytes: null });
  assert.deepEqual(quotaFor(config, 'bob'), { vms: 2, vcpus: 16, memoryBytes: 8 * GiB, diskBytes: 100 * GiB });
  assert.deepEqual(quotaFor(parseConfigText('', 't'), 'alice'), { vms: null, vcpus: null, memoryBytes: null, diskBytes: null });
});

test('quota config is strict: sizes in the CLI syntax, whole numbers, known keys, user names', () => {
  for (const [text, re] of [
    ['[quotas]\nmemory = "lots"', /quotas\.memory: a size/],
    ['[quotas]\nvcpus = 1.5', /quotas\.vcpus/],
    ['[quotas]\nvcpus = -1', /quotas\.vcpus/],
    ['[quotas]\ncpus = 4', /quotas\.cpus: unknown key/],
    ['[quotas.users.alice]\nram = "1G"', /quotas\.users\.alice\.ram: unknown key/],
    ['[quotas.users.Alice]\nvms = 1', /quotas\.users\.Alice/],
  ] as const) {
    assert.throws(() => parseConfigText(text, 't'), (e: unknown) => e instanceof RaptorError && e.kind === 'bad-input' && re.test(e.message), text);
  }
});

test('use is counted from domains (naming rule) and every guest volume, also one without a domain', () => {
  const use = usageByUser({
    domains: [
      { name: 'alice-web', vcpus: 2, memoryMiB: 1024 },
      { name: 'alice-db', vcpus: 1, memoryMiB: 512 },
      { name: 'bob-x', vcpus: 4, memoryMiB: 2048 },
      { name: 'ubuntu22.04', vcpus: 8, memoryMiB: 8192 },
    ],
    lvs: [
      { name: 'guest-alice-web', sizeBytes: 10 * GiB },
      { name: 'guest-alice-db', sizeBytes: 5 * GiB },
      { name: 'guest-alice-half', sizeBytes: GiB },
      { name: 'scratch', sizeBytes: 50 * GiB },
    ],
  });
  assert.deepEqual(use.get('alice'), { vms: 3, vcpus: 3, memoryBytes: 1536 * 2 ** 20, diskBytes: 16 * GiB });
  assert.deepEqual(use.get('bob'), { vms: 1, vcpus: 4, memoryBytes: 2048 * 2 ** 20, diskBytes: 0 });
  assert.equal(use.size, 2, 'hand-made domains and foreign volumes count for nobody');
});

test('checkQuota names each quota passed, with use and limit; at the limit is fine', () => {
  const q = quotaFor(config, 'alice');
  const use = { vms: 1, vcpus: 3, memoryBytes: 6 * GiB, diskBytes: 0 };
  checkQuota('alice', q, use, { vms: 1, vcpus: 1, memoryBytes: 2 * GiB, diskBytes: 1000 * GiB });
  assert.throws(
    () => checkQuota('alice', q, use, { vms: 1, vcpus: 2, memoryBytes: 4 * GiB, diskBytes: 0 }),
    (e: unknown) => e instanceof RaptorError && e.kind === 'conflict' && e.message === 'quota of alice exceeded: vcpus 3 of 4 in use, 2 more requested; memory 6 GiB of 8 GiB in use, 4 GiB more requested (an admin may pass --ignore-quota)',
  );
  // shrinking (nothing more) passes even when already over
  checkQuota('alice', q, { vms: 5, vcpus: 9, memoryBytes: 0, diskBytes: 0 }, { vms: 0, vcpus: 0, memoryBytes: 0, diskBytes: 0 });
});

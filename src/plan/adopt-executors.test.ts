import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Hypervisor } from '../libvirt/hypervisor.ts';
import { adoptExecutors } from './adopt-executors.ts';
import { applyPlan, ApplyError, type Executors } from './apply.ts';
import type { Step } from './steps.ts';

function fakeVirsh(failOn: (what: string) => boolean) {
  const calls: string[] = [];
  const virsh = {
    define: async (xml: string) => {
      calls.push(`define ${xml}`);
      if (failOn(`define ${xml}`)) throw new Error(`define ${xml} refused`);
    },
    setMetadata: async (name: string, uri: string, key: string, xml: string) => {
      const what = `metadata ${name} --uri ${uri} --key ${key} --set ${xml} --live`;
      calls.push(what);
      if (failOn(what)) throw new Error('metadata refused');
    },
    removeMetadata: async (name: string, uri: string) => {
      const what = `metadata ${name} --uri ${uri} --remove --live`;
      calls.push(what);
      if (failOn(what)) throw new Error('metadata refused');
    },
  } as unknown as Hypervisor;
  return { hv: virsh, calls };
}

const steps = (dir: string): Step[] => [
  { kind: 'nvram-copy', domain: 'alice-web', from: join(dir, 'old.fd'), to: join(dir, 'alice-web_VARS.fd') },
  { kind: 'domain-redefine', domain: 'alice-web', xml: 'NEW', previousXml: 'OLD' },
  { kind: 'domain-metadata-live', domain: 'alice-web', namespace: 'ns', key: 'raptor', xml: '<vm/>' },
];

test('adopt steps: a failed live metadata puts the old definition back and removes the NVRAM copy', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'raptor-adopt-'));
  try {
    writeFileSync(join(dir, 'old.fd'), 'uefi variables');
    const { hv, calls } = fakeVirsh((c) => c.startsWith('metadata'));
    await assert.rejects(applyPlan(steps(dir), adoptExecutors({ hv }) as Executors), ApplyError);
    assert.deepEqual(calls, ['define NEW', 'metadata alice-web --uri ns --key raptor --set <vm/> --live', 'define OLD']);
    assert.ok(!existsSync(join(dir, 'alice-web_VARS.fd')), 'the copy is gone');
    assert.equal(readFileSync(join(dir, 'old.fd'), 'utf8'), 'uefi variables', 'the original stays');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('adopt steps: the copy keeps the bytes; it never overwrites a file already there', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'raptor-adopt-'));
  try {
    writeFileSync(join(dir, 'old.fd'), 'uefi variables');
    const { hv } = fakeVirsh(() => false);
    await applyPlan(steps(dir), adoptExecutors({ hv }) as Executors);
    assert.equal(readFileSync(join(dir, 'alice-web_VARS.fd'), 'utf8'), 'uefi variables');
    writeFileSync(join(dir, 'old.fd'), 'changed');
    await assert.rejects(applyPlan(steps(dir).slice(0, 1), adoptExecutors({ hv }) as Executors), /EEXIST/);
    assert.equal(readFileSync(join(dir, 'alice-web_VARS.fd'), 'utf8'), 'uefi variables');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

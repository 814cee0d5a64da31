import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeCommand, describeHolders } from './volume-use.ts';
import { majorMinor } from './holders.ts';

test('describeCommand: arguments joined, control characters escaped, long lines cut', () => {
  assert.equal(describeCommand('sleep\u0000300\u0000', 'sleep\n'), 'sleep 300');
  assert.equal(describeCommand('', 'kworker/0:1\n'), '[kworker/0:1]');
  assert.equal(describeCommand('evil\nname\u0000x\u202e', ''), 'evil\\nname x\\u202e');
  assert.equal(describeCommand(`${'a'.repeat(100)}\u0000`, ''), `${'a'.repeat(77)}...`);
});

test('describeHolders names each kind in one line', () => {
  const line = describeHolders([
    { kind: 'process', pid: 12, command: 'sleep 300', ownQemu: false },
    { kind: 'loop', device: '/dev/loop7' },
    { kind: 'mount', target: '/mnt/a\nb' },
  ]);
  assert.equal(line, 'pid 12 (sleep 300), loop device /dev/loop7 over it, mounted on /mnt/a\\nb');
});

test('majorMinor decodes Linux dev_t, small and large numbers', () => {
  assert.deepEqual(majorMinor(0x0705), [7, 5]);
  assert.deepEqual(majorMinor(0xfd03), [253, 3]);
  // major 259 minor 1048577: (minor & 0xff) | (major & 0xfff) << 8 | (minor & ~0xff) << 12
  assert.deepEqual(majorMinor(0x01 + 259 * 256 + 0x100000 * 4096), [259, 0x100001]);
});

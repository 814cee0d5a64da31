import { test } from 'node:test';
import assert from 'node:assert/strict';
import { othersCanWrite } from './image.ts';

test('only a root-owned qcow2 without group/world write is converted in place; others get a private copy', () => {
  assert.equal(othersCanWrite({ uid: 0, mode: 0o100644 }), false);
  assert.equal(othersCanWrite({ uid: 0, mode: 0o100600 }), false);
  assert.equal(othersCanWrite({ uid: 0, mode: 0o100664 }), true);
  assert.equal(othersCanWrite({ uid: 0, mode: 0o100646 }), true);
  assert.equal(othersCanWrite({ uid: 1000, mode: 0o100444 }), true);
});

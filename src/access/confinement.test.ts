import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { confinementJson, renderConfinementDropIn } from './confinement.ts';

test('nix/libvirtd-confinement.json is what confinement.ts renders (the NixOS module reads it)', () => {
  const file = readFileSync(new URL('../../nix/libvirtd-confinement.json', import.meta.url), 'utf8');
  assert.equal(file, confinementJson(), 'regenerate: node --import tsx -e "import(\'./src/access/confinement.ts\').then(m=>process.stdout.write(m.confinementJson()))" > nix/libvirtd-confinement.json');
});

test('the drop-in is a [Service] section with one line per setting', () => {
  const text = renderConfinementDropIn();
  assert.match(text, /^\[Service\]$/m);
  assert.match(text, /^PrivateTmp=yes$/m);
  assert.match(text, /^ProtectHome=yes$/m);
  assert.match(text, /^TemporaryFileSystem=\/dev\/shm \/run\/lock$/m);
});

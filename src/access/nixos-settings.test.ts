import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { configOptionsJson } from './nixos-settings.ts';

test('nix/settings-options.json is the config schema as data (the NixOS module reads it)', () => {
  const file = readFileSync(new URL('../../nix/settings-options.json', import.meta.url), 'utf8');
  assert.equal(file, configOptionsJson(), 'regenerate: node --import tsx -e "import(\'./src/access/nixos-settings.ts\').then(m=>process.stdout.write(m.configOptionsJson()))" > nix/settings-options.json');
});

test('every key is there with its type; only the fields of list entries are required', () => {
  const root = JSON.parse(configOptionsJson()) as { options: Record<string, { type: string; options?: Record<string, { type: string; required?: boolean }>; of?: { options: Record<string, { required?: boolean }> }; values?: string[] }> };
  assert.deepEqual(root.options.domain_type, { type: 'enum', values: ['kvm', 'qemu'] });
  assert.equal(root.options.dns!.options!.port!.type, 'int');
  assert.equal(root.options.dns!.options!.enabled!.type, 'bool');
  assert.deepEqual(root.options.dns!.options!.reverse_zones, { type: 'list', of: { type: 'str' } });
  assert.equal(root.options.access!.options!.declarative_users!.type, 'bool');
  const bridge = root.options.bridges!.of!.options;
  assert.deepEqual(Object.entries(bridge).filter(([, v]) => v.required).map(([k]) => k), ['name']);
  const required = (list: string) => Object.entries(root.options[list]!.of!.options).filter(([, v]) => v.required).map(([k]) => k);
  assert.deepEqual(required('images'), ['name', 'path', 'format']);
  assert.deepEqual(required('flavors'), ['name', 'cpus', 'memory', 'disk']);
  assert.equal(configOptionsJson().match(/"required": true/g)?.length, 8, 'nothing outside list entries is required: raptor has a default for it');
});

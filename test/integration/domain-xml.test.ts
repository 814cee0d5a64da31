// The XML raptor renders is accepted by the real libvirtd (define, start under TCG, destroy,
// undefine --nvram), and the XML libvirt hands back parses to the same spec.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { parseDomainXml, renderDomainXml, specFromParsed, type DomainSpec } from '../../src/libvirt/domain-xml.ts';
import { cleanup, defineXml, dumpxml, loadTestConfig, lvm, sh, testConfigPath, virshNames } from './lib/raptor.ts';

const config = loadTestConfig(testConfigPath());
const NAME = 'xmltest-vm';
const virsh = (...a: string[]) => sh(['virsh', '-c', config.libvirt_uri, ...a]);

after(() => cleanup(config, [NAME]));

for (const consoleKind of ['virtio', 'serial'] as const) {
  test(`libvirt accepts, starts and hands back the rendered XML (${consoleKind} console)`, () => {
    cleanup(config, [NAME]);
    lvm(config, ['lvcreate', '-y', '-L', '16m', '-n', `guest-${NAME}`, config.storage.vg]);
    const spec: DomainSpec = {
      name: NAME,
      uuid: randomUUID(),
      type: config.domain_type,
      memoryMiB: 128,
      vcpuPins: [0],
      emulatorSet: [0],
      machine: 'q35',
      firmware: { code: config.firmware.code, vars: config.firmware.vars, nvram: `${config.nvram_dir}/${NAME}_VARS.fd` },
      disk: { path: `/dev/${config.storage.vg}/guest-${NAME}` },
      seed: null,
      network: { bridge: 'br-vm5', mac: '52:54:00:00:00:05' },
      console: consoleKind,
      consoleLog: `${config.console_log_dir}/${NAME}-console.log`,
      metadata: { owner: 'xmltest', bridge: 'br-vm5', createdAt: '2026-11-26T12:00:00.000Z' },
    };
    defineXml(renderDomainXml(spec));
    const back = specFromParsed(parseDomainXml(dumpxml(NAME)));
    assert.match(back.machine, /^pc-q35-\d/, 'libvirt expands q35 to its newest versioned machine');
    assert.deepEqual({ ...back, machine: 'q35' }, spec);
    virsh('start', NAME);
    assert.equal(virsh('domstate', NAME).trim(), 'running');
    assert.ok(existsSync(spec.firmware.nvram), 'NVRAM made from the template');
    const live = parseDomainXml(dumpxml(NAME));
    assert.equal(live.firmware?.secure, true);
    assert.deepEqual(live.vcpuPins, [0]);
    virsh('destroy', NAME);
    virsh('undefine', '--nvram', NAME);
    assert.ok(!virshNames().includes(NAME));
    assert.ok(!existsSync(spec.firmware.nvram), 'undefine --nvram removed the NVRAM file');
  });
}

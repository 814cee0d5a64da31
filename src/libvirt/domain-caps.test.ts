import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firmwareSuggestion, loaderPaths } from './domain-caps.ts';

const DOMCAPS = `<domainCapabilities>
  <path>/usr/bin/qemu-system-x86_64</path>
  <domain>qemu</domain>
  <machine>pc-q35-7.2</machine>
  <os supported='yes'>
    <enum name='firmware'>
      <value>efi</value>
    </enum>
    <loader supported='yes'>
      <value>/usr/share/OVMF/OVMF_CODE_4M.ms.fd</value>
      <value>/usr/share/OVMF/OVMF_CODE_4M.secboot.fd</value>
      <enum name='type'>
        <value>rom</value>
        <value>pflash</value>
      </enum>
      <enum name='readonly'>
        <value>yes</value>
        <value>no</value>
      </enum>
      <enum name='secure'>
        <value>yes</value>
        <value>no</value>
      </enum>
    </loader>
  </os>
  <devices><disk supported='yes'><enum name='diskDevice'><value>disk</value></enum></disk></devices>
</domainCapabilities>`;

test('firmware suggestion: the loader files of the domain capabilities, never the enum values beside them', () => {
  assert.deepEqual(loaderPaths(DOMCAPS), ['/usr/share/OVMF/OVMF_CODE_4M.ms.fd', '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd']);
  const text = firmwareSuggestion(loaderPaths(DOMCAPS));
  assert.equal(text, '; virsh domcapabilities lists these firmware files: /usr/share/OVMF/OVMF_CODE_4M.ms.fd, /usr/share/OVMF/OVMF_CODE_4M.secboot.fd');
  for (const word of ['rom', 'pflash', 'yes', 'no', 'efi']) assert.doesNotMatch(text, new RegExp(`\\b${word}\\b(?!/)`, 'i'), word);
  // one loader file: still a list
  assert.deepEqual(loaderPaths(DOMCAPS.replace(/<value>\/usr\/share\/OVMF\/OVMF_CODE_4M\.secboot\.fd<\/value>/, '')), ['/usr/share/OVMF/OVMF_CODE_4M.ms.fd']);
});

test('firmware suggestion: no loader files, or no loader at all, says so', () => {
  const none = DOMCAPS.replace(/<value>\/usr[^<]*<\/value>/g, '');
  assert.deepEqual(loaderPaths(none), []);
  assert.equal(firmwareSuggestion(loaderPaths(none)), '; virsh domcapabilities names no firmware files');
  assert.deepEqual(loaderPaths("<domainCapabilities><os supported='no'/></domainCapabilities>"), []);
  assert.deepEqual(loaderPaths('not xml <'), []);
  assert.match(firmwareSuggestion(undefined), /could not be read/);
});

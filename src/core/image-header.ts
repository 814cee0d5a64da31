// What an image file's first bytes say it is, before qemu ever opens it. Only raw and standalone
// qcow2 are accepted: every other format qemu would recognise is named, so nothing is guessed. Pure.

export type ImageFormat = 'raw' | 'qcow2';

/** qemu's options for reading one layer of `format` from `filename` and nothing else (no backing file, no probing). */
export function strictSource(format: ImageFormat, filename: string): string {
  const file = { driver: 'file', filename };
  return `json:${JSON.stringify(format === 'qcow2' ? { driver: 'qcow2', backing: null, file } : { driver: 'raw', file })}`;
}

export type HeaderVerdict =
  | { format: 'raw' }
  | { format: 'qcow2'; virtualSize: number; problems: string[] }
  | { format: 'other'; name: string };

/** Bytes of the file's start that probeImageHeader wants (qcow2 header extensions sit in the first cluster). */
export const HEADER_PROBE_BYTES = 1024 * 1024;

const QCOW_MAGIC = 0x514649fb; // "QFI\xfb"
const EXT_END = 0x00000000;
const EXT_DATA_FILE = 0x44415441; // "DATA": the name of an external data file
const INCOMPAT_DATA_FILE = 1n << 2n;

const startsWith = (buf: Uint8Array, at: number, text: string): boolean =>
  buf.length >= at + text.length && [...text].every((c, i) => buf[at + i] === c.charCodeAt(0));

/** Formats qemu recognises by their first bytes, other than raw and qcow2 (qemu's probe functions). */
function otherFormat(buf: Uint8Array): string | undefined {
  if (startsWith(buf, 0, 'QED\0')) return 'qed';
  if (startsWith(buf, 0, 'KDMV') || startsWith(buf, 0, 'COWD') || startsWith(buf, 0, '# Disk DescriptorFile')) return 'vmdk';
  if (startsWith(buf, 0, 'vhdxfile')) return 'vhdx';
  if (startsWith(buf, 0, 'conectix')) return 'vpc';
  if (startsWith(buf, 0, 'LUKS\xba\xbe')) return 'luks';
  if (startsWith(buf, 0, 'WithoutFreeSpace') || startsWith(buf, 0, 'WithouFreSpacExt')) return 'parallels';
  if (startsWith(buf, 0, 'Bochs Virtual HD Image')) return 'bochs';
  if (startsWith(buf, 0, '#!/bin/sh\n#V2.0 Format\n')) return 'cloop';
  if (buf.length >= 0x44 && buf[0x40] === 0x7f && buf[0x41] === 0x10 && buf[0x42] === 0xda && buf[0x43] === 0xbe) return 'vdi';
  // a vmdk descriptor may start with comments or blank lines before its "createType"
  const head = new TextDecoder('latin1').decode(buf.subarray(0, 2048));
  if (/^(#[^\n]*\n|\s*\n)*version\s*=\s*[123]\s*\n/.test(head) && /createType\s*=/.test(head)) return 'vmdk';
  return undefined;
}

/**
 * Classify an image from its first bytes (`buf`, up to HEADER_PROBE_BYTES). A qcow2 lists every
 * reason it is not one self-contained layer: a backing file, an external data file, encryption.
 */
export function probeImageHeader(buf: Uint8Array): HeaderVerdict {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.length >= 4 && dv.getUint32(0) === QCOW_MAGIC) {
    if (buf.length < 72) return { format: 'qcow2', virtualSize: 0, problems: ['its qcow2 header is truncated'] };
    const version = dv.getUint32(4);
    if (version !== 2 && version !== 3) return { format: 'other', name: version === 1 ? 'qcow (version 1)' : `qcow version ${version}` };
    const problems: string[] = [];
    if (dv.getBigUint64(8) !== 0n || dv.getUint32(16) !== 0) problems.push('it has a backing file (its data would come from another file)');
    if (dv.getUint32(32) !== 0) problems.push('it is encrypted');
    const virtualSize = Number(dv.getBigUint64(24));
    let extAt = 72;
    if (version === 3) {
      if (buf.length < 104) return { format: 'qcow2', virtualSize, problems: [...problems, 'its qcow2 header is truncated'] };
      if (dv.getBigUint64(72) & INCOMPAT_DATA_FILE) problems.push('it has an external data file (its data would come from another file)');
      extAt = dv.getUint32(100);
    }
    // header extensions: type, length, data padded to 8 bytes, up to an end marker
    for (let n = 0; ; n++) {
      if (extAt + 8 > buf.length || n > 1024) {
        problems.push('its qcow2 header extensions do not end in the first MiB');
        break;
      }
      const type = dv.getUint32(extAt);
      const len = dv.getUint32(extAt + 4);
      if (type === EXT_END) break;
      if (type === EXT_DATA_FILE && !problems.some((p) => p.includes('external data file'))) problems.push('it names an external data file (its data would come from another file)');
      extAt += 8 + Math.ceil(len / 8) * 8;
    }
    return { format: 'qcow2', virtualSize, problems };
  }
  const other = otherFormat(buf);
  return other ? { format: 'other', name: other } : { format: 'raw' };
}

/**
 * Deterministic ids. Every replica must derive the same topic id from the same log entry,
 * so ids come from the cluster id and the log index, never from a random source.
 */

function fmix32(h: number): number {
  let x = h;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85eb_ca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2_ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

function hash32(text: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x0100_0193);
    h = (h << 13) | (h >>> 19);
  }
  return fmix32(h ^ text.length);
}

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');

/**
 * A UUID-shaped id (version 8, "custom") derived from the cluster id and the log index of
 * the CreateTopic entry. Unique within a cluster because log indexes are; distinct across
 * clusters with different ids.
 */
export function topicIdFor(clusterId: string | null, index: number): string {
  const text = `${clusterId ?? ''}/topic/${index}`;
  const w = [0x9e37_79b9, 0x85eb_ca6b, 0xc2b2_ae35, 0x27d4_eb2f].map((seed) => hash32(text, seed));
  const [a = 0, b = 0, c = 0, d = 0] = w;
  const h = hex8(a) + hex8(((b & 0xffff0fff) | 0x00008000) >>> 0) + hex8(((c & 0x3fffffff) | 0x80000000) >>> 0) + hex8(d);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

let crcTable: Uint32Array | undefined;

/** CRC-32C (Castagnoli), used to detect a corrupt snapshot before trusting its contents. */
export function crc32c(bytes: Uint8Array): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f6_3b78 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  const table = crcTable;
  let crc = 0xffff_ffff;
  for (let i = 0; i < bytes.length; i++) crc = (table[(crc ^ (bytes[i] ?? 0)) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffff_ffff) >>> 0;
}

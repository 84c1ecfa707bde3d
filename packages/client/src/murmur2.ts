// Kafka's Utils.murmur2 (MurmurHash2, seed 0x9747b28c) and its key partitioner, bit for bit,
// so a keyed record lands on the partition a Java Kafka producer would choose.

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 of `data` as a signed 32-bit integer (what Java's `int` holds). */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  const tail = length & ~3;
  // Java's switch falls through from case 3 to case 1, mixing every remaining byte.
  switch (length & 3) {
    case 3:
      h ^= data[tail + 2]! << 16;
      h ^= data[tail + 1]! << 8;
      h ^= data[tail]!;
      h = Math.imul(h, M);
      break;
    case 2:
      h ^= data[tail + 1]! << 8;
      h ^= data[tail]!;
      h = Math.imul(h, M);
      break;
    case 1:
      h ^= data[tail]!;
      h = Math.imul(h, M);
      break;
    default:
      break;
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's BuiltInPartitioner.partitionForKey: toPositive(murmur2(key)) % numPartitions. */
export function partitionForKey(key: Uint8Array, numPartitions: number): number {
  if (!Number.isSafeInteger(numPartitions) || numPartitions <= 0) {
    throw new RangeError(`numPartitions must be a positive integer, got ${numPartitions}`);
  }
  return (murmur2(key) & 0x7fffffff) % numPartitions;
}

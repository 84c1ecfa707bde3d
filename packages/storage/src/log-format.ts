import { BATCH_UNCOVERED_BYTES, verifyBatchCrc } from './batch.js';
import { crc32c } from './bytes.js';
import { type WritableFile } from './fs.js';

/**
 * The one framed log format shared by the WAL and the manifest (LevelDB style: a small writer
 * and a small reader). A frame is
 *
 *   crc32c u32 LE | length u32 LE | type u8 | payload (length bytes)
 *
 * The CRC always covers length and type, so a flipped length is caught like any other damage.
 * For manifest edits it covers the whole payload. For WAL appends (payload = segment seq u32 +
 * partition id u32 + Kafka batches) it covers seq, partition id and the first 21 bytes of every batch, the only
 * bytes the batch's own CRC-32C does not cover; a frame is valid only if every batch CRC also
 * checks. Every byte is thus checked once, not twice: checksums cost ~0.7 ms per MiB on these
 * machines, a third of an fdatasync. See docs/formats/wal.md.
 */
export const FRAME_HEADER_BYTES = 9;

export const FrameType = {
  /** Untagged WAL append (payload: partition id + batches), written before ADR 0010; still read. */
  walAppend: 1,
  manifestEdit: 2,
  /** WAL append tagged with its segment's seq (payload: seq + partition id + batches). */
  walSegmentAppend: 3,
  /** Last frame of a sealed WAL segment (payload: seq); whatever follows is left over. */
  walSegmentEnd: 4,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

const VALID_TYPES = new Set<number>(Object.values(FrameType));

/** Builds the 9-byte header for a payload given as chunks; returns [header, ...chunks]. */
export function frame(type: FrameType, chunks: readonly Uint8Array[]): Uint8Array[] {
  let length = 0;
  for (const c of chunks) length += c.byteLength;
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32LE(length, 4);
  header.writeUInt8(type, 8);
  let crc = crc32c(header.subarray(4, FRAME_HEADER_BYTES));
  for (const c of chunks) crc = crc32c(c, crc);
  header.writeUInt32LE(crc, 0);
  return [header, ...chunks];
}

/** Segment seq and partition id before a tagged WAL append's batches. */
export const WAL_HEAD_BYTES = 8;
/** The untagged (pre-ADR 0010) head: the partition id only. */
const UNTAGGED_WAL_HEAD_BYTES = 4;

/** A WAL append frame of segment `seq`: `batches` are whole, already CRC-checked batches. */
export function walFrame(seq: number, partitionId: number, batches: readonly Uint8Array[]): Uint8Array[] {
  const head = Buffer.allocUnsafe(WAL_HEAD_BYTES);
  head.writeUInt32LE(seq, 0);
  head.writeUInt32LE(partitionId, 4);
  let length = head.length;
  for (const b of batches) length += b.byteLength;
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32LE(length, 4);
  header.writeUInt8(FrameType.walSegmentAppend, 8);
  let crc = crc32c(header.subarray(4, FRAME_HEADER_BYTES));
  crc = crc32c(head, crc);
  for (const b of batches) crc = crc32c(b.subarray(0, BATCH_UNCOVERED_BYTES), crc);
  header.writeUInt32LE(crc, 0);
  return [header, head, ...batches];
}

/** CRC of a WAL append payload as walFrame computes it, or null when the batches do not tile it. */
function walPayloadCrc(payload: Buffer, seed: number, headBytes: number): number | null {
  if (payload.length < headBytes) return null;
  let crc = crc32c(payload.subarray(0, headBytes), seed);
  let pos = headBytes;
  while (pos < payload.length) {
    if (payload.length - pos < 61) return null;
    const size = 12 + payload.readInt32BE(pos + 8);
    if (size < 61 || pos + size > payload.length) return null;
    crc = crc32c(payload.subarray(pos, pos + BATCH_UNCOVERED_BYTES), crc);
    pos += size;
  }
  return crc;
}

function walBatchesIntact(payload: Buffer, headBytes: number): boolean {
  let pos = headBytes;
  while (pos < payload.length) {
    const size = 12 + payload.readInt32BE(pos + 8);
    if (!verifyBatchCrc(payload, pos, size)) return false;
    pos += size;
  }
  return true;
}

export function frameBytes(chunks: readonly Uint8Array[]): number {
  let n = FRAME_HEADER_BYTES;
  for (const c of chunks) n += c.byteLength;
  return n;
}

/** Appends whole frames to a file; durability is the caller's datasync. */
export class LogWriter {
  constructor(readonly file: WritableFile) {}

  get size(): number {
    return this.file.size;
  }

  async add(type: FrameType, chunks: readonly Uint8Array[]): Promise<void> {
    await this.file.append(frame(type, chunks));
  }

  async sync(): Promise<void> {
    await this.file.datasync();
  }
}

export interface Frame {
  readonly type: FrameType;
  readonly payload: Buffer;
  readonly start: number;
  readonly end: number;
}

export type LogTail =
  | { readonly kind: 'clean' }
  /** Frames stop at `validEnd`; nothing valid follows, so this is an interrupted write. */
  | { readonly kind: 'torn'; readonly validEnd: number }
  /** A bad frame at `position` with at least one valid frame after it: real corruption. */
  | { readonly kind: 'corrupt'; readonly position: number; readonly nextValidFrame: number };

export interface ParsedLog {
  readonly frames: Frame[];
  readonly validEnd: number;
  readonly tail: LogTail;
}

function frameAt(buf: Buffer, pos: number, frameBytesMax: number): Frame | null {
  if (buf.length - pos < FRAME_HEADER_BYTES) return null;
  const length = buf.readUInt32LE(pos + 4);
  const type = buf.readUInt8(pos + 8);
  if (!VALID_TYPES.has(type) || length > frameBytesMax) return null;
  const end = pos + FRAME_HEADER_BYTES + length;
  if (end > buf.length) return null;
  const payload = buf.subarray(pos + FRAME_HEADER_BYTES, end);
  const seed = crc32c(buf.subarray(pos + 4, pos + FRAME_HEADER_BYTES));
  if (type === FrameType.walAppend || type === FrameType.walSegmentAppend) {
    const headBytes = type === FrameType.walAppend ? UNTAGGED_WAL_HEAD_BYTES : WAL_HEAD_BYTES;
    const crc = walPayloadCrc(payload, seed, headBytes);
    if (crc !== buf.readUInt32LE(pos) || !walBatchesIntact(payload, headBytes)) return null;
  } else if (crc32c(payload, seed) !== buf.readUInt32LE(pos)) {
    return null;
  }
  return { type: type as FrameType, payload, start: pos, end };
}

/**
 * Whether a valid frame belongs to WAL segment `seq`: a tagged frame with that seq, or an
 * untagged one in a file that began with untagged frames (written before segments were tagged).
 */
function inSegment(f: Frame, seq: number, first: Frame | undefined): boolean {
  if (f.type === FrameType.walSegmentAppend || f.type === FrameType.walSegmentEnd) return f.payload.length >= 4 && f.payload.readUInt32LE(0) === seq;
  return f.type === FrameType.walAppend && (first === undefined || first.type === FrameType.walAppend);
}

/** The frame that seals WAL segment `seq`. */
export function walSegmentEnd(seq: number): Uint8Array[] {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32LE(seq, 0);
  return frame(FrameType.walSegmentEnd, [payload]);
}

const ZEROS = Buffer.alloc(64 * 1024);

function allZero(buf: Buffer, from: number): boolean {
  for (let pos = from; pos < buf.length; pos += ZEROS.length) {
    const end = Math.min(buf.length, pos + ZEROS.length);
    if (!buf.subarray(pos, end).equals(ZEROS.subarray(0, end - pos))) return false;
  }
  return true;
}

/**
 * Reads every valid frame from the start of `buf`. At the first bad frame it looks for any
 * valid frame later in the buffer: none means a torn tail (safe to cut), one means corruption
 * (nothing after the first bad frame is trusted, and the caller must not silently drop it).
 *
 * For a WAL segment (`segmentSeq` given) the file may be preallocated or recycled (ADR 0010):
 * only frames tagged with this seq belong to it, a segment-end frame ends it cleanly (what
 * follows is left over from the file's preparation or earlier use), and an unsealed file's
 * frames followed by zeros or by frames of other segments end in a torn tail.
 */
export function parseLog(buf: Buffer, frameBytesMax: number, segmentSeq?: number): ParsedLog {
  const frames: Frame[] = [];
  const belongs = (f: Frame | null): f is Frame => f !== null && (segmentSeq === undefined || inSegment(f, segmentSeq, frames[0]));
  let pos = 0;
  while (pos < buf.length) {
    const f = frameAt(buf, pos, frameBytesMax);
    if (!belongs(f)) break;
    frames.push(f);
    pos = f.end;
    if (f.type === FrameType.walSegmentEnd) return { frames, validEnd: pos, tail: { kind: 'clean' } };
  }
  if (pos === buf.length) return { frames, validEnd: pos, tail: { kind: 'clean' } };
  // Never written past here (a preallocated file): nothing to probe.
  if (segmentSeq !== undefined && allZero(buf, pos)) return { frames, validEnd: pos, tail: { kind: 'torn', validEnd: pos } };
  const corrupt = (probe: number): ParsedLog => ({ frames, validEnd: pos, tail: { kind: 'corrupt', position: pos, nextValidFrame: probe } });
  /** The first later position holding a frame of this file whose type byte passes `wanted`. */
  const scan = (wanted: (type: number) => boolean): number => {
    for (let probe = pos + 1; probe + FRAME_HEADER_BYTES <= buf.length; probe++) {
      if (wanted(buf[probe + 8] ?? 0) && belongs(frameAt(buf, probe, frameBytesMax))) return probe;
    }
    return -1;
  };
  if (segmentSeq === undefined) {
    const at = scan((type) => VALID_TYPES.has(type));
    if (at >= 0) return corrupt(at);
  } else {
    // A recycled file is full of other segments' frames: look only where this segment's seq
    // sits after a frame header (a native search), and CRC only those candidates.
    const tag = Buffer.allocUnsafe(4);
    tag.writeUInt32LE(segmentSeq, 0);
    for (let at = buf.indexOf(tag, pos + 1 + FRAME_HEADER_BYTES); at !== -1; at = buf.indexOf(tag, at + 1)) {
      const probe = at - FRAME_HEADER_BYTES;
      const type = buf[probe + 8];
      if ((type === FrameType.walSegmentAppend || type === FrameType.walSegmentEnd) && belongs(frameAt(buf, probe, frameBytesMax))) return corrupt(probe);
    }
    // Untagged frames can only belong to a file that began with them (written before ADR 0010).
    if (frames[0] === undefined || frames[0].type === FrameType.walAppend) {
      const at = scan((type) => type === FrameType.walAppend);
      if (at >= 0) return corrupt(at);
    }
  }
  return { frames, validEnd: pos, tail: { kind: 'torn', validEnd: pos } };
}

import { crc32c } from './bytes.js';
import { type WritableFile } from './fs.js';

/**
 * The one framed log format shared by the WAL and the manifest (LevelDB style: a small writer
 * and a small reader). A frame is
 *
 *   crc32c u32 LE | length u32 LE | type u8 | payload (length bytes)
 *
 * where the CRC covers length, type and payload, so a flipped length is caught like any other
 * damage. See docs/formats/wal.md.
 */
export const FRAME_HEADER_BYTES = 9;

export const FrameType = {
  walAppend: 1,
  manifestEdit: 2,
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
  const crc = crc32c(buf.subarray(pos + 4, end));
  if (crc !== buf.readUInt32LE(pos)) return null;
  return { type: type as FrameType, payload: buf.subarray(pos + FRAME_HEADER_BYTES, end), start: pos, end };
}

/**
 * Reads every valid frame from the start of `buf`. At the first bad frame it looks for any
 * valid frame later in the buffer: none means a torn tail (safe to cut), one means corruption
 * (nothing after the first bad frame is trusted, and the caller must not silently drop it).
 */
export function parseLog(buf: Buffer, frameBytesMax: number): ParsedLog {
  const frames: Frame[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const f = frameAt(buf, pos, frameBytesMax);
    if (f === null) break;
    frames.push(f);
    pos = f.end;
  }
  if (pos === buf.length) return { frames, validEnd: pos, tail: { kind: 'clean' } };
  for (let probe = pos + 1; probe + FRAME_HEADER_BYTES <= buf.length; probe++) {
    if (frameAt(buf, probe, frameBytesMax) !== null) {
      return { frames, validEnd: pos, tail: { kind: 'corrupt', position: pos, nextValidFrame: probe } };
    }
  }
  return { frames, validEnd: pos, tail: { kind: 'torn', validEnd: pos } };
}

/**
 * Codec: msgpackr for the variable-shaped, low-rate messages that ride in ring records (control,
 * bugcheck reports, trace export, snapshots). Hot messages use fixed Int32 layouts instead: those
 * are ~25x faster (reference/node-stack.md).
 *
 * Word format: payload word 0 = byte length, then the bytes packed little-endian, 4 per word.
 * Any thread may call these; the Packr/Unpackr pair is per thread (module state) and stateless
 * between calls (useRecords: false, so no shared structures to keep in step across threads).
 */

import { Packr, Unpackr } from 'msgpackr';
import { MAX_RECORD_PAYLOAD } from '../shm/spsc-ring.js';

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export interface PackedWords {
  /** exactly `length` words, ready for Outbox.sendWords(to, kind, words, 0, length) */
  words: Int32Array;
  length: number;
}

/**
 * Packs `value` into words. `maxWords` is the payload limit of the ring that will carry it (pass
 * ring.maxPayload); a message over it throws RangeError: split it or use another channel.
 */
export function packToWords(value: unknown, maxWords: number = MAX_RECORD_PAYLOAD): PackedWords {
  // pack() returns a view into msgpackr's reused buffer: copy out before the next pack()
  const bytes = packr.pack(value);
  const length = 1 + ((bytes.length + 3) >>> 2);
  if (length > maxWords) {
    throw new RangeError(
      `message packs to ${bytes.length} bytes (${length} words), over the ${maxWords}-word limit of one ring record; split it or send it another way`,
    );
  }
  const words = new Int32Array(length);
  words[0] = bytes.length;
  if (LITTLE_ENDIAN) {
    new Uint8Array(words.buffer, 4, bytes.length).set(bytes);
  } else {
    for (let i = 0; i < bytes.length; i++) words[1 + (i >>> 2)] |= bytes[i]! << ((i & 3) * 8);
  }
  return { words, length };
}

/**
 * Decodes a payload written by packToWords from i32[offset .. offset+length). The bytes are copied
 * into a small private buffer first: decoding through a view over the whole SharedArrayBuffer costs
 * ~10 µs a message on Node 20 (msgpackr's native path refuses shared memory and falls back).
 */
export function unpackFromWords(i32: Int32Array, offset: number, length: number): unknown {
  if (length < 1) throw new RangeError('packed payload is empty: no byte-length word');
  const byteLength = i32[offset]!;
  if (byteLength < 0 || byteLength > (length - 1) * 4) {
    throw new RangeError(`packed payload claims ${byteLength} bytes but carries ${(length - 1) * 4}`);
  }
  const bytes = new Uint8Array(byteLength);
  if (LITTLE_ENDIAN) {
    bytes.set(new Uint8Array(i32.buffer, i32.byteOffset + (offset + 1) * 4, byteLength));
  } else {
    for (let i = 0; i < byteLength; i++) bytes[i] = (i32[offset + 1 + (i >>> 2)]! >>> ((i & 3) * 8)) & 0xff;
  }
  return unpackr.unpack(bytes);
}

/**
 * Emulated times on the wire: nanoseconds up to 2^53 travel as two Int32 words (the low 32 bits
 * unsigned, then the high bits). Shared by the message records (messages.ts) and the dispatcher
 * operations (dispatcher-ops.ts).
 */

const TWO_32 = 4294967296;

export function timeLo(ns: number): number {
  return (ns % TWO_32) | 0;
}
export function timeHi(ns: number): number {
  return Math.floor(ns / TWO_32) | 0;
}
export function joinTime(lo: number, hi: number): number {
  return hi * TWO_32 + (lo >>> 0);
}

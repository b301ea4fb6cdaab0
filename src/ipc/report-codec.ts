/**
 * Reports (see Report in messages.ts) as msgpackr bytes on a worker's message port. The bytes are
 * copied into a fresh buffer and transferred, so nothing is cloned twice and msgpackr's shared
 * pack buffer is never detached.
 */

import { Packr, Unpackr } from 'msgpackr';
import type { Report } from './messages.js';

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

export function packReport(report: Report): Uint8Array {
  const packed = packr.pack(report);
  const bytes = new Uint8Array(packed.length);
  bytes.set(packed);
  return bytes;
}

export function unpackReport(bytes: Uint8Array): Report {
  return unpackr.unpack(bytes) as Report;
}

/**
 * FNV-1a 64-bit over 32-bit words, computed in two 32-bit halves (no BigInt on the hot path).
 * Every CPU folds each trace record into its own running hash; the machine combines the per-CPU
 * hashes in CPU order, so the result does not depend on when the main thread drained anything.
 */
export class Fnv64 {
  hi = 0xcbf29ce4 | 0;
  lo = 0x84222325 | 0;
  /** fold one 32-bit word, byte by byte */
  word(value: number): void {
    for (let shift = 0; shift < 32; shift += 8) {
      this.lo ^= (value >>> shift) & 0xff;
      // multiply the 64-bit (hi, lo) by the FNV prime 0x100000001b3 = 2^40 + 0x1b3
      const lo = this.lo >>> 0;
      const hi = this.hi >>> 0;
      const loTimes = lo * 0x1b3;
      const newLo = loTimes >>> 0;
      const carry = Math.floor(loTimes / 4294967296);
      const newHi = (Math.imul(hi, 0x1b3) + carry + (lo << 8)) | 0;
      this.lo = newLo | 0;
      this.hi = newHi;
    }
  }
  hex(): string {
    return (this.hi >>> 0).toString(16).padStart(8, '0') + (this.lo >>> 0).toString(16).padStart(8, '0');
  }
}

/**
 * TraceHash: a 64-bit hash of a stream of 32-bit words, as two independent FNV-1a-style lanes that
 * each fold a whole word per step (xor, then multiply by a 32-bit FNV prime; the second lane
 * rotates first so the lanes differ). Every CPU folds each trace record into its own running hash;
 * the machine combines the per-CPU hashes in CPU order, so the result does not depend on when the
 * main thread drained anything. Word-wise, not byte-wise FNV: it is on every trace event's path.
 */
export class TraceHash {
  private a = 0x811c9dc5 | 0;
  private b = 0x050c5d1f | 0;
  word(value: number): void {
    this.a = Math.imul(this.a ^ value, 0x01000193);
    this.b = Math.imul(this.b ^ ((value << 13) | (value >>> 19)), 0x01000193) ^ (this.a >>> 15);
  }
  hex(): string {
    return (this.b >>> 0).toString(16).padStart(8, '0') + (this.a >>> 0).toString(16).padStart(8, '0');
  }
}

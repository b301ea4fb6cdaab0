// SpscRing in one thread: format, wraparound, full ring, counter wrap at 2^31, limits.
import { describe, expect, it } from 'vitest';
import { RingHeader } from '../../src/shm/layout.js';
import { MAX_RECORD_PAYLOAD, SpscRing } from '../../src/shm/spsc-ring.js';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** a ring at a non-zero base, so offset mistakes show up */
function makeRing(capacity: number, base = 3): { i32: Int32Array; ring: SpscRing } {
  const i32 = new Int32Array(new SharedArrayBuffer((base + SpscRing.wordsFor(capacity) + 5) * 4));
  SpscRing.init(i32, base, capacity);
  return { i32, ring: new SpscRing(i32, base) };
}

interface Rec {
  kind: number;
  words: number[];
}

function drain(ring: SpscRing, max = Infinity): Rec[] {
  const out: Rec[] = [];
  ring.read((kind, i32, offset, length) => {
    out.push({ kind, words: Array.from(i32.subarray(offset, offset + length)) });
  }, max);
  return out;
}

/** Writes a record with tryWrite (<= 7 words) or tryWriteWords, alternating by length. */
function write(ring: SpscRing, rec: Rec): boolean {
  const w = rec.words;
  if (w.length <= 7 && (w.length & 1) === 0) {
    return ring.tryWrite(rec.kind, w.length, w[0], w[1], w[2], w[3], w[4], w[5], w[6]);
  }
  return ring.tryWriteWords(rec.kind, Int32Array.from(w), 0, w.length);
}

describe('SpscRing', () => {
  it('wordsFor and init write the header', () => {
    expect(SpscRing.wordsFor(64)).toBe(RingHeader.WORDS + 64);
    const { i32, ring } = makeRing(64, 7);
    expect(i32[7 + RingHeader.CAPACITY]).toBe(64);
    expect(ring.capacity).toBe(64);
    expect(ring.maxPayload).toBe(31);
    expect(() => SpscRing.wordsFor(48)).toThrow(RangeError);
    expect(() => new SpscRing(new Int32Array(new SharedArrayBuffer(64)), 0)).toThrow(/init/);
  });

  it('empty read delivers nothing', () => {
    const { ring } = makeRing(16);
    expect(ring.isEmpty()).toBe(true);
    expect(ring.availableWords()).toBe(0);
    let calls = 0;
    expect(ring.read(() => calls++)).toBe(0);
    expect(calls).toBe(0);
    expect(ring.readInto(new Int32Array(8), 0)).toBe(0);
  });

  it('carries kind and payload for every arity 0..7, with negative words', () => {
    const { ring } = makeRing(64);
    for (let n = 0; n <= 7; n++) {
      const words = Array.from({ length: n }, (_, i) => (i % 2 ? -1 : 1) * (i + 1) * 0x1234567);
      expect(ring.tryWrite(0xffff - n, n, ...words)).toBe(true);
      const got = drain(ring);
      expect(got).toEqual([{ kind: 0xffff - n, words }]);
    }
    expect(ring.isEmpty()).toBe(true);
  });

  it('wraps around many times with varying lengths (PAD path) in order', () => {
    const seed = 0x5eed01;
    const rnd = mulberry32(seed);
    const { ring } = makeRing(64);
    const queue: Rec[] = [];
    let seq = 0;
    let delivered = 0;
    for (let step = 0; step < 20000; step++) {
      if (rnd() < 0.55) {
        const len = Math.floor(rnd() * (ring.maxPayload + 1));
        const rec: Rec = { kind: 1 + (seq % 0xfffe), words: Array.from({ length: len }, (_, i) => seq * 40 + i) };
        if (write(ring, rec)) {
          queue.push(rec);
          seq++;
        }
      } else {
        const got = drain(ring, 1 + Math.floor(rnd() * 4));
        for (const g of got) {
          expect(g, `seed ${seed} record ${delivered}`).toEqual(queue.shift());
          delivered++;
        }
      }
    }
    for (const g of drain(ring)) expect(g, `seed ${seed}`).toEqual(queue.shift());
    expect(queue.length, `seed ${seed}`).toBe(0);
    expect(seq, `seed ${seed}: enough traffic to wrap many times`).toBeGreaterThan(1000);
  });

  it('a full ring returns false and leaves its contents intact', () => {
    const { ring } = makeRing(16);
    // 4 records of 3 payload words = 16 words: exactly full
    for (let i = 0; i < 4; i++) expect(ring.tryWrite(i + 1, 3, i, i, i)).toBe(true);
    expect(ring.freeWords()).toBe(0);
    expect(ring.tryWrite(9, 0)).toBe(false);
    expect(ring.tryWriteWords(9, new Int32Array([1, 2]), 0, 2)).toBe(false);
    expect(ring.availableWords()).toBe(16);
    expect(drain(ring)).toEqual([0, 1, 2, 3].map((i) => ({ kind: i + 1, words: [i, i, i] })));
  });

  it('a record that does not fit before the end waits for space there too (PAD + record)', () => {
    const { ring } = makeRing(16);
    expect(ring.tryWrite(1, 6, 1, 2, 3, 4, 5, 6)).toBe(true); // words 0..6
    expect(ring.tryWrite(2, 6, 1, 2, 3, 4, 5, 6)).toBe(true); // words 7..13
    expect(drain(ring, 1)).toHaveLength(1); // frees 0..6
    // 8 words needed: the 2 tail words (PAD) + 8 at the start = 10 > 9 free: refuse
    expect(ring.tryWrite(3, 7, 0, 0, 0, 0, 0, 0, 0)).toBe(false);
    expect(ring.tryWrite(3, 4, 7, 7, 7, 7)).toBe(true); // PAD(2) + 5 words at index 0
    expect(drain(ring)).toEqual([
      { kind: 2, words: [1, 2, 3, 4, 5, 6] },
      { kind: 3, words: [7, 7, 7, 7] },
    ]);
  });

  it('counters near 2^31 wrap without losing or reordering records', () => {
    const seed = 0x7ffff;
    const rnd = mulberry32(seed);
    const { i32 } = makeRing(32, 0);
    i32[RingHeader.WRITE] = 2 ** 31 - 8;
    i32[RingHeader.READ] = 2 ** 31 - 8;
    const ring = new SpscRing(i32, 0);
    const queue: Rec[] = [];
    for (let step = 0; step < 2000; step++) {
      const len = Math.floor(rnd() * 8);
      const rec: Rec = { kind: 7, words: Array.from({ length: len }, () => (rnd() * 2 ** 32) | 0) };
      if (write(ring, rec)) queue.push(rec);
      if (rnd() < 0.5) for (const g of drain(ring)) expect(g, `seed ${seed} step ${step}`).toEqual(queue.shift());
    }
    for (const g of drain(ring)) expect(g, `seed ${seed}`).toEqual(queue.shift());
    expect(queue).toHaveLength(0);
    const w = i32[RingHeader.WRITE]!;
    expect(w, 'WRITE wrapped past 2^31 to a small non-negative count').toBeGreaterThanOrEqual(0);
    expect(w).toBeLessThan(2 ** 30);
    expect(i32[RingHeader.READ]).toBe(w);
  });

  it('takes the max payload, even right after a PAD, and rejects larger with RangeError', () => {
    const { ring } = makeRing(64);
    const max = ring.maxPayload;
    const big = Int32Array.from({ length: max }, (_, i) => i * 3 - 50);
    expect(ring.tryWrite(1, 0)).toBe(true); // shift the start so the big record must pad
    expect(drain(ring)).toHaveLength(1);
    expect(ring.tryWriteWords(2, big, 0, max)).toBe(true);
    expect(drain(ring)).toEqual([{ kind: 2, words: Array.from(big) }]);
    expect(ring.tryWriteWords(3, big, 0, max)).toBe(true); // now needs PAD + record
    expect(drain(ring)).toEqual([{ kind: 3, words: Array.from(big) }]);
    expect(() => ring.tryWriteWords(2, new Int32Array(max + 1), 0, max + 1)).toThrow(RangeError);
    expect(() => ring.tryWrite(0, 0)).toThrow(RangeError);
    expect(() => ring.tryWrite(0x10000, 0)).toThrow(RangeError);
    expect(() => ring.tryWrite(1, 8)).toThrow(RangeError);
    const huge = makeRing(1 << 18).ring;
    expect(huge.maxPayload).toBe(MAX_RECORD_PAYLOAD);
  });

  it('staged records stay invisible until publish()', () => {
    const { ring } = makeRing(32);
    expect(ring.stage(1, 2, 10, 11)).toBe(true);
    expect(ring.stageWords(2, new Int32Array([5, 6, 7]), 1, 2)).toBe(true);
    expect(ring.isEmpty()).toBe(true);
    expect(drain(ring)).toEqual([]);
    ring.publish();
    expect(drain(ring)).toEqual([
      { kind: 1, words: [10, 11] },
      { kind: 2, words: [6, 7] },
    ]);
  });

  it('publish() says whether the consumer had drained the ring (when a doorbell ring is needed)', () => {
    const { ring } = makeRing(32);
    expect(ring.publish(), 'nothing staged').toBe(false);
    ring.stage(1, 1, 1);
    expect(ring.publish(), 'first record into an empty ring').toBe(true);
    ring.stage(1, 1, 2);
    expect(ring.publish(), 'consumer has not read record 1 yet').toBe(false);
    expect(drain(ring, 1)).toHaveLength(1);
    ring.stage(1, 1, 3);
    expect(ring.publish(), 'record 2 still unread').toBe(false);
    expect(drain(ring)).toHaveLength(2);
    ring.stage(1, 1, 4);
    ring.stage(1, 1, 5);
    expect(ring.publish(), 'drained again').toBe(true);
  });

  it('readInto copies one record and releases it; read() honours maxRecords and refuses re-entry', () => {
    const { ring } = makeRing(32);
    ring.tryWrite(4, 3, 1, 2, 3);
    ring.tryWrite(5, 1, 9);
    const dst = new Int32Array(ring.maxPayload + 2);
    const h = ring.readInto(dst, 2);
    expect(h & 0xffff).toBe(4);
    expect(h >>> 16).toBe(3);
    expect(Array.from(dst.subarray(2, 5))).toEqual([1, 2, 3]);
    expect(ring.availableWords()).toBe(2);
    expect(() => ring.read(() => ring.read(() => undefined))).toThrow(/re-entered/);
    ring.tryWrite(6, 0);
    expect(drain(ring, 1)).toEqual([{ kind: 6, words: [] }]);
    expect(ring.isEmpty()).toBe(true);
  });
});

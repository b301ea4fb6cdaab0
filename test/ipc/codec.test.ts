// codec: msgpackr values in ring-record words, through a real ring in shared memory.
import { describe, expect, it } from 'vitest';
import { packToWords, unpackFromWords } from '../../src/ipc/codec.js';
import { SpscRing } from '../../src/shm/spsc-ring.js';

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

function viaRing(value: unknown, capacity = 1024): unknown {
  const i32 = new Int32Array(new SharedArrayBuffer(SpscRing.wordsFor(capacity) * 4 + 12));
  SpscRing.init(i32, 3, capacity);
  const ring = new SpscRing(i32, 3);
  const { words, length } = packToWords(value, ring.maxPayload);
  expect(ring.tryWriteWords(5, words, 0, length)).toBe(true);
  let out: unknown;
  expect(
    ring.read((_kind, w, offset, len) => {
      out = unpackFromWords(w, offset, len);
    }),
  ).toBe(1);
  return out;
}

describe('codec', () => {
  it('round-trips nested objects, strings, arrays and numbers through a shared ring', () => {
    const values: unknown[] = [
      { kind: 'bugcheck', code: 0xa, params: [1, -2, 3.5, 2 ** 40], cpu: 3, text: 'IRQL_NOT_LESS_OR_EQUAL' },
      { nested: { deeper: { list: [[1, 2], [], ['a', { b: null }]], flag: true } } },
      'just a string with ünïcödé ✓ and emoji 🧵',
      [0, -1, 0x7fffffff, -0x80000000, 1e-9, Number.MAX_SAFE_INTEGER],
      42,
      -7.25,
      true,
      null,
      '',
      {},
      [],
    ];
    for (const v of values) expect(viaRing(v)).toEqual(v);
  });

  it('round-trips every byte-length remainder (word padding) for seeded random strings', () => {
    const seed = 99;
    const rnd = mulberry32(seed);
    for (let n = 0; n < 64; n++) {
      const s = Array.from({ length: n }, () => String.fromCharCode(32 + Math.floor(rnd() * 90))).join('');
      const { words, length } = packToWords(s);
      expect(length, `seed ${seed} n ${n}`).toBe(words.length);
      expect(length, `seed ${seed} n ${n}`).toBe(1 + Math.ceil(words[0]! / 4));
      expect(unpackFromWords(words, 0, length), `seed ${seed} n ${n}`).toBe(s);
    }
  });

  it('rejects a message too big for one ring record with a clear RangeError', () => {
    const big = { blob: 'x'.repeat(400) };
    expect(() => packToWords(big, 64)).toThrow(RangeError);
    expect(() => packToWords(big, 64)).toThrow(/over the 64-word limit of one ring record/);
    expect(() => packToWords('y'.repeat(300_000))).toThrow(RangeError); // over any record (0xffff words)
    expect(() => viaRing({ blob: 'z'.repeat(4000) }, 1024)).toThrow(RangeError);
  });

  it('rejects a corrupt byte length instead of reading past the record', () => {
    const { words, length } = packToWords({ a: 1 });
    words[0] = length * 4 + 1;
    expect(() => unpackFromWords(words, 0, length)).toThrow(RangeError);
    expect(() => unpackFromWords(words, 0, 0)).toThrow(RangeError);
  });
});

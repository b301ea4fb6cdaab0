// SpscRing + Doorbell across threads: a worker produces a seeded stream, the main thread consumes
// it (polling between event-loop turns, as the main thread must) and checks order and contents.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { DoorbellField } from '../../src/shm/layout.js';
import { Doorbell } from '../../src/shm/doorbell.js';
import { SpscRing } from '../../src/shm/spsc-ring.js';

const fixture = new URL('../fixtures/ring-producer.mjs', import.meta.url);
const built = new URL('../../dist/src/shm/spsc-ring.js', import.meta.url);

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

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** poll: changedSince() between event-loop turns; sleepAsync: Doorbell.sleepAsync (Atomics.waitAsync, woken by the producer's notify) */
type ConsumerWait = 'poll' | 'sleepAsync';

async function runProducer(seed: number, capacity: number, records: number, maxLen: number, wait: ConsumerWait = 'poll'): Promise<void> {
  expect(existsSync(fileURLToPath(built)), 'dist/ is missing: run `npm run build` before these tests').toBe(true);
  const doorbellBase = 1;
  const ringBase = doorbellBase + DoorbellField.WORDS + 1;
  const i32 = new Int32Array(new SharedArrayBuffer((ringBase + SpscRing.wordsFor(capacity)) * 4));
  SpscRing.init(i32, ringBase, capacity);
  const ring = new SpscRing(i32, ringBase);
  const doorbell = new Doorbell(i32, doorbellBase);

  const worker = new Worker(fixture, { workerData: { sab: i32.buffer, ringBase, doorbellBase, seed, records, maxLen } });
  let failure: Error | null = null;
  let exitCode: number | null = null;
  const exited = new Promise<number>((resolve) => {
    // ring on the worker's end too, as Machine does, so a consumer asleep in sleepAsync sees it
    worker.on('error', (err) => {
      failure = err;
      doorbell.ring();
    });
    worker.on('exit', (code) => {
      exitCode = code;
      resolve(code);
      doorbell.ring();
    });
  });

  try {
    const lengths = mulberry32(seed);
    let got = 0;
    let seq = 0;
    let mismatch: string | null = null;
    const visit = (kind: number, w: Int32Array, offset: number, length: number): void => {
      if (mismatch) return;
      const expectLen = 1 + Math.floor(lengths() * maxLen);
      const expectKind = 1 + (got % 0xfffe);
      let sum = 0;
      for (let i = 0; i < length - 1; i++) {
        if (w[offset + i] !== seq) {
          mismatch = `record ${got} word ${i}: ${w[offset + i]} != seq ${seq}`;
          return;
        }
        sum = (sum + seq) | 0;
        seq++;
      }
      if (kind !== expectKind) mismatch = `record ${got}: kind ${kind} != ${expectKind}`;
      else if (length !== expectLen) mismatch = `record ${got}: length ${length} != ${expectLen}`;
      else if (w[offset + length - 1] !== (sum ^ 0x5a5a5a5a)) mismatch = `record ${got}: bad checksum`;
      got++;
    };
    while (got < records && !mismatch) {
      const seen = doorbell.seen();
      if (ring.read(visit) > 0) continue;
      // empty: wait for the doorbell without blocking the event loop (never Atomics.wait here)
      if (wait === 'sleepAsync') {
        // no timeout: a lost wake-up leaves the test hanging until vitest fails it
        await doorbell.sleepAsync(seen, Infinity);
      } else {
        while (!doorbell.changedSince(seen) && failure === null && exitCode === null) await turn();
      }
      if (failure) throw failure;
      if (exitCode !== null && ring.isEmpty() && got < records) break;
    }
    expect(mismatch, `seed ${seed}`).toBeNull();
    expect(got, `seed ${seed}: records received`).toBe(records);
    expect(ring.isEmpty(), `seed ${seed}: nothing after the last record`).toBe(true);
    expect(await exited, `seed ${seed}: producer exit code`).toBe(0);
    expect(failure).toBeNull();
  } finally {
    await worker.terminate();
    await exited;
  }
}

describe('SpscRing across workers', () => {
  it('delivers a seeded stream of 200k records of 1..24 words in order, intact (1024-word ring)', async () => {
    await runProducer(0xc0ffee, 1024, 200_000, 24);
  });

  it('delivers records up to the max payload through a tiny 16-word ring that is full most of the time', async () => {
    await runProducer(12345, 16, 20_000, 7);
  });

  it('wakes a main-thread consumer asleep in Doorbell.sleepAsync on every ring: no lost wake-up', async () => {
    await runProducer(777, 64, 20_000, 7, 'sleepAsync');
  });
});

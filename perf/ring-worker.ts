/**
 * Worker side of perf/ring.ts: runs one role (producer or consumer) of one transport scenario per
 * request from the main thread, then replies. Owned by perf/ring.ts only; never part of irqlab.
 * The ring loops block this worker's event loop on purpose (that is the mode being measured); the
 * postMessage consumer cannot block, so it replies from its port listener.
 */

import { parentPort } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { Doorbell } from '../src/shm/doorbell.js';
import { SpscRing } from '../src/shm/spsc-ring.js';

export type Scenario = 'ring' | 'ring16' | 'postMessage' | 'bare';

export interface RunRequest {
  scenario: Scenario;
  role: 'producer' | 'consumer';
  messages: number;
  sab?: SharedArrayBuffer;
  ringBase?: number;
  doorbellBase?: number;
  port?: MessagePort;
}

export interface RunReply {
  role: 'producer' | 'consumer';
  /** consumer: messages/s from its first received message to its last */
  rate: number;
  /** consumer: messages that arrived with a wrong sequence number (must be 0) */
  errors: number;
}

/** Bare ring geometry: fixed 4-word slots, head and tail counters before the slots. */
export const BARE_HEAD = 0;
export const BARE_TAIL = 1;
export const BARE_SLOTS = 1024;
export const BARE_WORDS = 2 + BARE_SLOTS * 4;

// perf/ring.ts imports the constants above on the main thread, where there is no parent port
const port = parentPort;
port?.on('message', (req: RunRequest) => {
  const reply = run(req);
  if (reply) port.postMessage(reply);
});

function run(req: RunRequest): RunReply | null {
  const n = req.messages;
  if (req.scenario === 'postMessage') {
    const p = req.port!;
    if (req.role === 'producer') {
      for (let i = 0; i < n; i++) p.postMessage({ kind: 1, a: i, b: i + 1, c: i + 2, d: i + 3 });
      p.close();
      return { role: 'producer', rate: 0, errors: 0 };
    }
    let got = 0;
    let errors = 0;
    let t0 = 0;
    p.on('message', (m: { a: number }) => {
      if (got === 0) t0 = performance.now();
      if (m.a !== got) errors++;
      if (++got === n) {
        const rate = (n - 1) / ((performance.now() - t0) / 1000);
        p.close();
        port!.postMessage({ role: 'consumer', rate, errors } satisfies RunReply);
      }
    });
    return null;
  }
  const i32 = new Int32Array(req.sab!);
  if (req.scenario === 'bare') return req.role === 'producer' ? bareProducer(i32, n) : bareConsumer(i32, n);
  const ring = new SpscRing(i32, req.ringBase!);
  const doorbell = new Doorbell(i32, req.doorbellBase!);
  if (req.role === 'producer') return ringProducer(ring, doorbell, n, req.scenario === 'ring16' ? 16 : 1);
  return ringConsumer(ring, doorbell, n);
}

function ringProducer(ring: SpscRing, doorbell: Doorbell, n: number, batch: number): RunReply {
  let i = 0;
  while (i < n) {
    const end = Math.min(n, i + batch);
    while (i < end) {
      if (ring.stage(1, 4, i, i + 1, i + 2, i + 3)) {
        i++;
      } else {
        // full: publish what we have and spin until the consumer frees space
        if (ring.publish()) doorbell.ring();
        while (ring.freeWords() < 16) {
          /* spin: the consumer runs on the other core */
        }
      }
    }
    // the Outbox rule: ring only when the consumer had drained everything (it may be asleep)
    if (ring.publish()) doorbell.ring();
  }
  return { role: 'producer', rate: 0, errors: 0 };
}

function ringConsumer(ring: SpscRing, doorbell: Doorbell, n: number): RunReply {
  let got = 0;
  let errors = 0;
  const visit = (_kind: number, w: Int32Array, offset: number): void => {
    if (w[offset] !== got || w[offset + 3] !== got + 3) errors++;
    got++;
  };
  let t0 = 0;
  let first = 0;
  while (got < n) {
    if (ring.read(visit) > 0) {
      if (t0 === 0) {
        t0 = performance.now();
        first = got;
      }
      continue;
    }
    // empty: snapshot the doorbell, then look once more before sleeping on that snapshot
    const seen = doorbell.seen();
    if (ring.read(visit) === 0) doorbell.sleep(seen);
    else if (t0 === 0) {
      t0 = performance.now();
      first = got;
    }
  }
  return { role: 'consumer', rate: (n - first) / ((performance.now() - t0) / 1000), errors };
}

// The bare ring: about the least a correct Int32 SPSC ring can do (fixed 4-word slots, one
// Atomics.store per message on the producer side, a busy consumer that drains what it sees).
function bareProducer(i32: Int32Array, n: number): RunReply {
  let head = 0;
  let tail = 0;
  for (let i = 0; i < n; i++) {
    while (head - tail === BARE_SLOTS) tail = Atomics.load(i32, BARE_TAIL);
    const at = 2 + (head & (BARE_SLOTS - 1)) * 4;
    i32[at] = i;
    i32[at + 1] = i + 1;
    i32[at + 2] = i + 2;
    i32[at + 3] = i + 3;
    Atomics.store(i32, BARE_HEAD, ++head);
  }
  return { role: 'producer', rate: 0, errors: 0 };
}

function bareConsumer(i32: Int32Array, n: number): RunReply {
  let tail = 0;
  let errors = 0;
  let t0 = 0;
  let first = 0;
  while (tail < n) {
    const head = Atomics.load(i32, BARE_HEAD);
    if (head === tail) continue;
    if (t0 === 0) {
      t0 = performance.now();
      first = tail;
    }
    while (tail !== head) {
      const at = 2 + (tail & (BARE_SLOTS - 1)) * 4;
      if (i32[at] !== tail || i32[at + 3] !== tail + 3) errors++;
      tail++;
    }
    Atomics.store(i32, BARE_TAIL, tail);
  }
  return { role: 'consumer', rate: (n - first) / ((performance.now() - t0) / 1000), errors };
}

// Inbox/Outbox: backlog and FIFO over tiny rings in one thread (deterministic mode), spill
// ordering, and blocking mode between two real workers flooding each other (no deadlock).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { DoorbellField } from '../../src/shm/layout.js';
import { Doorbell } from '../../src/shm/doorbell.js';
import { SpscRing } from '../../src/shm/spsc-ring.js';
import { Inbox, Outbox } from '../../src/ipc/mailbox.js';

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

interface Endpoint {
  inbox: Inbox;
  outbox: Outbox;
}

/** Lays out doorbells and one ring per ordered pair of `actors` in one buffer. */
function buildMachine(
  actors: number[],
  capacity: number,
  blocking = false,
): { sab: SharedArrayBuffer; doorbells: Record<number, number>; rings: Record<string, number>; ends: Map<number, Endpoint> } {
  const doorbells: Record<number, number> = {};
  const rings: Record<string, number> = {};
  let at = 0;
  for (const a of actors) {
    doorbells[a] = at;
    at += DoorbellField.WORDS;
  }
  for (const from of actors)
    for (const to of actors)
      if (from !== to) {
        rings[`${from}>${to}`] = at;
        at += SpscRing.wordsFor(capacity);
      }
  const i32 = new Int32Array(new SharedArrayBuffer(at * 4));
  for (const base of Object.values(rings)) SpscRing.init(i32, base, capacity);
  const ends = new Map<number, Endpoint>();
  if (!blocking) {
    for (const self of actors) {
      const others = actors.filter((a) => a !== self).sort((x, y) => x - y);
      const inbox = new Inbox(
        new Doorbell(i32, doorbells[self]!),
        others.map((from) => ({ from, ring: new SpscRing(i32, rings[`${from}>${self}`]!) })),
      );
      const outbox = new Outbox(
        others.map((to) => ({ to, ring: new SpscRing(i32, rings[`${self}>${to}`]!), doorbell: new Doorbell(i32, doorbells[to]!) })),
        { blocking: false },
      );
      ends.set(self, { inbox, outbox });
    }
  }
  return { sab: i32.buffer as SharedArrayBuffer, doorbells, rings, ends };
}

type Delivered = [from: number, kind: number, ...words: number[]];

/**
 * Three actors over 16-word rings, driven by a seeded schedule: random sends (inline and by words),
 * polls whose visitor sometimes replies, flushes. Returns everything delivered, in delivery order.
 */
function runSchedule(seed: number): { delivered: Map<number, Delivered[]>; sent: Map<string, Delivered[]>; ends: Map<number, Endpoint> } {
  const rnd = mulberry32(seed);
  const actors = [2, 3, 4];
  const { ends } = buildMachine(actors, 16);
  const sent = new Map<string, Delivered[]>();
  const delivered = new Map<number, Delivered[]>(actors.map((a) => [a, []]));
  let next = 1;
  const sendOne = (from: number, to: number, reply: boolean): void => {
    const len = reply ? 1 : Math.floor(rnd() * 8);
    const words = Array.from({ length: len }, () => next++);
    const kind = reply ? 99 : 1 + Math.floor(rnd() * 50);
    const out = ends.get(from)!.outbox;
    if (len > 4 && rnd() < 0.5) out.sendWords(to, kind, Int32Array.from(words), 0, len);
    else out.send(to, kind, len, ...words);
    const key = `${from}>${to}`;
    if (!sent.has(key)) sent.set(key, []);
    sent.get(key)!.push([from, kind, ...words]);
  };
  const pollAll = (self: number): number =>
    ends.get(self)!.inbox.poll((kind, w, offset, length, from) => {
      delivered.get(self)!.push([from, kind, ...Array.from(w.subarray(offset, offset + length))]);
      if (kind !== 99 && rnd() < 0.2) sendOne(self, from, true); // a reply sent from inside poll
    });
  for (let step = 0; step < 3000; step++) {
    const self = actors[Math.floor(rnd() * actors.length)]!;
    const r = rnd();
    if (r < 0.6) {
      const others = actors.filter((a) => a !== self);
      const burst = 1 + Math.floor(rnd() * 6);
      for (let i = 0; i < burst; i++) sendOne(self, others[Math.floor(rnd() * others.length)]!, false);
    } else if (r < 0.85) {
      pollAll(self);
    } else {
      ends.get(self)!.outbox.flush();
    }
  }
  // quiesce: everyone flushes and polls until nothing moves
  for (let moved = 1; moved > 0; ) {
    moved = 0;
    for (const a of actors) {
      const { inbox, outbox } = ends.get(a)!;
      moved += outbox.flush();
      if (inbox.hasWork()) moved += pollAll(a);
    }
  }
  return { delivered, sent, ends };
}

describe('Inbox/Outbox in one thread (blocking: false)', () => {
  it('three actors over 16-word rings: nothing lost, FIFO per source, backlog used', () => {
    const seed = 0xbeef;
    const { delivered, sent, ends } = runSchedule(seed);
    let total = 0;
    for (const [self, recs] of delivered) {
      for (const from of [2, 3, 4].filter((a) => a !== self)) {
        const got = recs.filter((r) => r[0] === from);
        expect(got, `seed ${seed}: ${from}>${self}`).toEqual(sent.get(`${from}>${self}`) ?? []);
        total += got.length;
      }
    }
    const stats = [...ends.values()].map((e) => e.outbox.stats());
    expect(total, `seed ${seed}`).toBe(stats.reduce((s, x) => s + x.recordsSent, 0));
    expect(
      stats.reduce((s, x) => s + x.recordsBacklogged, 0),
      `seed ${seed}: the backlog path was exercised`,
    ).toBeGreaterThan(100);
    expect(Math.max(...stats.map((s) => s.maxBacklogWords)), `seed ${seed}`).toBeGreaterThan(16);
    for (const s of stats) {
      expect(s.backlogWords).toBe(0);
      expect(s.timesBlocked).toBe(0);
    }
  });

  it('replays identically: the same seed gives the same global delivery order', () => {
    const a = runSchedule(777);
    const b = runSchedule(777);
    expect([...b.delivered], 'seed 777').toEqual([...a.delivered]);
  });

  it('spilled records come first, in spill order, and per-source FIFO holds', () => {
    const { ends } = buildMachine([1, 2, 3], 64);
    const o1 = ends.get(1)!.outbox;
    const o2 = ends.get(2)!.outbox;
    const inbox = ends.get(3)!.inbox;
    expect(inbox.hasWork()).toBe(false);
    o2.send(3, 20, 1, 200);
    o1.send(3, 10, 1, 100);
    o1.send(3, 11, 1, 101);
    expect(inbox.hasWork()).toBe(true);
    expect(inbox.spill()).toBe(3);
    expect(inbox.spilledWords()).toBe(3 * 3);
    o2.send(3, 21, 1, 201);
    o1.send(3, 12, 1, 102);
    const got: number[] = [];
    expect(inbox.poll((_k, w, off) => got.push(w[off]!))).toBe(5);
    // spill drained rings in ascending source order (1 then 2), then the rings again
    expect(got).toEqual([100, 101, 200, 102, 201]);
    expect(inbox.hasWork()).toBe(false);
    expect(inbox.recordsSpilled).toBe(3);
  });

  it('a visitor that spills mid-poll (a blocked send) does not reorder: spilled records come next', () => {
    const { ends } = buildMachine([1, 3], 64);
    const o1 = ends.get(1)!.outbox;
    const inbox = ends.get(3)!.inbox;
    o1.send(3, 1, 1, 0);
    o1.send(3, 1, 1, 1);
    const got: number[] = [];
    inbox.poll((_k, w, off) => {
      const v = w[off]!;
      got.push(v);
      if (v === 0) {
        o1.send(3, 1, 1, 2);
        expect(inbox.spill()).toBe(2); // what a blocked Outbox does: 1 and 2 move to the spill queue
        o1.send(3, 1, 1, 3); // newer, still in the ring
        expect(w[off]).toBe(0); // our payload copy is untouched by the spill
      }
    });
    expect(got).toEqual([0, 1, 2, 3]);
  });

  it('poll(maxRecords) leaves the rest for later and hasWork() stays true', () => {
    const { ends } = buildMachine([1, 2], 64);
    for (let i = 0; i < 5; i++) ends.get(1)!.outbox.send(2, 1, 1, i);
    const inbox = ends.get(2)!.inbox;
    const got: number[] = [];
    expect(inbox.poll((_k, w, off) => got.push(w[off]!), 2)).toBe(2);
    expect(inbox.hasWork()).toBe(true);
    expect(inbox.poll((_k, w, off) => got.push(w[off]!))).toBe(3);
    expect(got).toEqual([0, 1, 2, 3, 4]);
    expect(inbox.hasWork()).toBe(false);
  });

  it('rejects misuse: unsorted inbox, blocking without inbox, unknown destination, bad records', () => {
    const { ends, sab, rings, doorbells } = buildMachine([1, 2, 3], 16);
    const i32 = new Int32Array(sab);
    const db = new Doorbell(i32, doorbells[3]!);
    expect(
      () =>
        new Inbox(db, [
          { from: 2, ring: new SpscRing(i32, rings['2>3']!) },
          { from: 1, ring: new SpscRing(i32, rings['1>3']!) },
        ]),
    ).toThrow(/ascending/);
    expect(() => new Outbox([], { blocking: true })).toThrow(/inbox/);
    const o = ends.get(1)!.outbox;
    expect(() => o.send(9, 1, 0)).toThrow(RangeError);
    expect(() => o.send(2, 0, 0)).toThrow(RangeError);
    // the same checks hold on the backlog path
    while (o.backlogWords(2) === 0) o.send(2, 1, 7, 1, 2, 3, 4, 5, 6, 7);
    expect(() => o.send(2, 0x10000, 0)).toThrow(RangeError);
    expect(() => o.sendWords(2, 1, new Int32Array(8), 0, 8)).toThrow(RangeError);
  });
});

describe('Outbox blocking mode across workers', () => {
  it('two workers send 100k records each to each other over 64-word rings: no deadlock, all arrive in order', async () => {
    const fixture = new URL('../fixtures/mailbox-peer.mjs', import.meta.url);
    expect(existsSync(fileURLToPath(new URL('../../dist/src/ipc/mailbox.js', import.meta.url))), 'dist/ is missing: run `npm run build` first').toBe(true);
    const seed = 4242;
    const records = 100_000;
    const { sab, doorbells, rings } = buildMachine([2, 3], 64, true);
    const workers = [2, 3].map((self) => new Worker(fixture, { workerData: { sab, self, peer: self === 2 ? 3 : 2, doorbells, rings, records, seed } }));
    type Report = {
      self: number;
      dataIn: number;
      acksIn: number;
      errors: string[];
      stats: { timesBlocked: number; recordsSent: number; recordsBacklogged: number };
      spilled: number;
    };
    const done = workers.map(
      (w) =>
        new Promise<{ report: Report | null; code: number }>((resolve, reject) => {
          let report: Report | null = null;
          w.on('message', (m: Report) => {
            report = m;
            // a failed actor stops consuming, so its peer would wait forever: stop both
            if (m.errors.length > 0) for (const other of workers) void other.terminate();
          });
          w.on('error', reject);
          w.on('exit', (code) => resolve({ report, code }));
        }),
    );
    try {
      const results = await Promise.all(done);
      for (const { report, code } of results) {
        expect(code, `seed ${seed}`).toBe(0);
        expect(report, `seed ${seed}: worker reported`).not.toBeNull();
        expect(report!.errors, `seed ${seed}: actor ${report!.self}`).toEqual([]);
        expect(report!.dataIn, `seed ${seed}: actor ${report!.self} DATA`).toBe(records);
        expect(report!.acksIn, `seed ${seed}: actor ${report!.self} ACK`).toBe(records);
        expect(report!.stats.recordsSent).toBe(2 * records);
      }
      const blocked = results.reduce((s, r) => s + r.report!.stats.timesBlocked, 0);
      const spilled = results.reduce((s, r) => s + r.report!.spilled, 0);
      expect(blocked, `seed ${seed}: the blocking path was exercised`).toBeGreaterThan(0);
      expect(spilled, `seed ${seed}: the spill path was exercised`).toBeGreaterThan(0);
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  });
});

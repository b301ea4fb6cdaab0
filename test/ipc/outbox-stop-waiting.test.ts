// A blocking send to a consumer that will never read again (a CPU frozen by a bugcheck) must not
// wait for ever: stopWaiting ends the wait, the record stays in the backlog, and forEachBacklogged
// shows it (the coordinator counts the device assertions it could not deliver).
import { describe, expect, it } from 'vitest';
import { DoorbellField } from '../../src/shm/layout.js';
import { Doorbell } from '../../src/shm/doorbell.js';
import { SpscRing } from '../../src/shm/spsc-ring.js';
import { Inbox, Outbox } from '../../src/ipc/mailbox.js';

describe('Outbox.stopWaiting', () => {
  it('ends a blocked send when the consumer will never make room, leaving the records backlogged', () => {
    const capacity = 16;
    const doorbellA = 0;
    const doorbellB = DoorbellField.WORDS;
    const ringAB = 2 * DoorbellField.WORDS;
    const ringBA = ringAB + SpscRing.wordsFor(capacity);
    const i32 = new Int32Array(new SharedArrayBuffer((ringBA + SpscRing.wordsFor(capacity)) * 4));
    SpscRing.init(i32, ringAB, capacity);
    SpscRing.init(i32, ringBA, capacity);
    const inbox = new Inbox(new Doorbell(i32, doorbellA), [{ from: 2, ring: new SpscRing(i32, ringBA) }]);
    let frozen = false;
    let checks = 0;
    const outbox = new Outbox([{ to: 2, ring: new SpscRing(i32, ringAB), doorbell: new Doorbell(i32, doorbellB) }], {
      blocking: true,
      inbox,
      backlogLimitWords: 8,
      stopWaiting: () => {
        checks++;
        return frozen;
      },
    });
    // nobody reads actor 2's ring: fill it, then the backlog up to its limit
    let sent = 0;
    while (outbox.backlogWords(2) + 6 <= 8) {
      outbox.send(2, 1, 5, 0x50, 0, 0, 0, sent++);
    }
    frozen = true;
    outbox.send(2, 1, 5, 0x50, 0, 0, 0, sent++);
    expect(checks).toBeGreaterThan(0);
    const backlogged: number[] = [];
    outbox.forEachBacklogged((to, kind, words, offset, length) => {
      expect([to, kind, length]).toEqual([2, 1, 5]);
      backlogged.push(words[offset + 4]!);
    });
    const inRing: number[] = [];
    new SpscRing(i32, ringAB).read((_kind, w, o) => {
      inRing.push(w[o + 4]!);
    });
    // every record is in exactly one place, in order
    expect([...inRing, ...backlogged]).toEqual(Array.from({ length: sent }, (_, i) => i));
    expect(backlogged.length).toBeGreaterThan(0);
  });
});

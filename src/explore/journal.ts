/**
 * The exploration's journal: a text file to which the seed of every iteration is appended before
 * the iteration starts, and its outcome once it has ended, so that when the emulator itself
 * crashes (a pool worker or the whole process dies mid-iteration) the seeds that were running are
 * on disk: the `start` lines without an `end`. Lines:
 *
 *   # irqlab explore <scenario> … (header, by the main thread)
 *   start <iteration> <seed>
 *   end <iteration> <seed> <GRADE> <outcome>
 *   # <summary> (by the main thread, at the end)
 *
 * Each pool worker appends its own lines (one write(2) per line on a file opened for appending, so
 * lines from several workers interleave whole, never torn). Writes are synchronous: the `start`
 * line is in the kernel's hands before the iteration runs.
 */

import { closeSync, openSync, writeSync } from 'node:fs';
import { GRADE_LABELS } from './outcome.js';
import type { Grade } from './outcome.js';

export class Journal {
  private fd: number | null;

  private constructor(fd: number) {
    this.fd = fd;
  }

  /** Open `path` for appending (created when missing). */
  static open(path: string): Journal {
    return new Journal(openSync(path, 'a'));
  }

  line(text: string): void {
    if (this.fd === null) return;
    writeSync(this.fd, `${text.replace(/[\r\n]+/g, ' ')}\n`);
  }

  started(index: number, seed: number): void {
    this.line(`start ${index} ${seed}`);
  }

  ended(index: number, seed: number, grade: Grade, outcome: string): void {
    this.line(`end ${index} ${seed} ${GRADE_LABELS[grade]} ${outcome}`);
  }

  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }
}

/** The seeds a journal shows started and never ended (what was running when the emulator died). */
export function unfinishedSeeds(text: string): Array<{ index: number; seed: number }> {
  const running = new Map<number, number>();
  for (const line of text.split('\n')) {
    const start = /^start (\d+) (\d+)$/.exec(line);
    if (start) running.set(Number(start[1]), Number(start[2]));
    const end = /^end (\d+) /.exec(line);
    if (end) running.delete(Number(end[1]));
  }
  return [...running].map(([index, seed]) => ({ index, seed })).sort((a, b) => a.index - b.index);
}

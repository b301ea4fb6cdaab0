// explore's progress on stderr (src/cli/explore-command.ts): on a terminal one line, redrawn at most
// 10 times a second, with the iterations done, the rate, the ETA and the outcomes so far, erased at
// the end; elsewhere nothing, or with --verbose a plain line at most once a second.
import { describe, expect, it } from 'vitest';
import { createExploreProgress, exploreProgressLine } from '../../src/cli/explore-command.js';
import type { ExploreProgress } from '../../src/explore/engine.js';

const state = (done: number, elapsedMs: number): ExploreProgress => ({
  done,
  planned: 1000,
  elapsedMs,
  counts: [
    { outcome: 'exact', grade: 'acceptable', count: done - 3 },
    { outcome: 'lost update', grade: 'forbidden', count: 3 },
  ],
});

describe('explore progress', () => {
  it('says iterations done, rate, ETA and the outcomes so far, FORBIDDEN ones marked', () => {
    expect(exploreProgressLine('lost-update', state(250, 1000), 200)).toBe(
      'irqlab explore lost-update  250/1000 25%  250/s  ETA 3s  exact ×247, FORBIDDEN lost update ×3',
    );
    expect(exploreProgressLine('lost-update', state(250, 1000), 40)).toHaveLength(39);
    expect(exploreProgressLine('x', { done: 0, planned: 10, elapsedMs: 0, counts: [] }, 80)).toContain('ETA ?');
  });

  it('draws on a terminal at most every 100 ms and erases its line at the end', () => {
    const writes: string[] = [];
    let now = 0;
    const progress = createExploreProgress('lost-update', { isTTY: true, columns: 120, write: (text: string) => writes.push(text) }, false, () => now);
    progress.update(state(10, 40));
    now = 50;
    progress.update(state(20, 90));
    now = 150;
    progress.update(state(30, 140));
    expect(writes).toHaveLength(2);
    expect(writes[1]).toMatch(/^\rirqlab explore lost-update {2}30\/1000 3%/);
    expect(writes[1]!.endsWith('\x1b[K')).toBe(true);
    progress.clear();
    expect(writes[2]).toBe('\r\x1b[K');
  });

  it('writes nothing when stderr is not a terminal, and plain lines once a second with --verbose', () => {
    const quiet: string[] = [];
    createExploreProgress('x', { isTTY: false, write: (text: string) => quiet.push(text) }, false).update(state(10, 10));
    expect(quiet).toEqual([]);
    const logged: string[] = [];
    let now = 0;
    const verbose = createExploreProgress('x', { isTTY: false, write: (text: string) => logged.push(text) }, true, () => now);
    verbose.update(state(10, 10));
    now = 500;
    verbose.update(state(20, 510));
    now = 1000;
    verbose.update(state(30, 1010));
    verbose.clear();
    expect(logged).toHaveLength(2);
    expect(logged.every((line) => line.startsWith('irqlab explore x  ') && line.endsWith('\n'))).toBe(true);
  });
});

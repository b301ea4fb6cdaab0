// The TTY progress line follows the machine's emulated clock (the coordinator's), so it reaches the
// end of the run in both modes: CPUs that sit halted on timers (deterministic) or stay busy without
// halting (parallel) used to leave it at 0.0 or at their last halt.
import { describe, expect, it } from 'vitest';
import { createProgress } from '../../src/cli/progress.js';
import { runCli } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/main.js';

/** runCli with a terminal on stderr; returns every progress line drawn, in order */
async function progressLines(argv: string[]): Promise<string[]> {
  const err: string[] = [];
  const io: CliIo = {
    stdout: { write: () => true },
    stderr: { isTTY: true, columns: 120, write: (s: string) => err.push(s) },
    env: {},
  };
  await runCli(argv, io, { handleSignals: false });
  return err
    .join('')
    .split('\r')
    .map((line) => line.replace('\x1b[K', ''))
    .filter((line) => line.startsWith('irqlab '));
}

describe('the progress line', () => {
  it('deterministic: ends at the run length while the CPUs wait on timers (it stayed at 0.0)', async () => {
    const lines = await progressLines(['run', 'periodic-dpc-timer', '--mode', 'deterministic', '--duration', '12s']);
    expect(lines.at(-1)).toMatch(/\] 100%\s+12000\.0 \/ 12000\.0 ms emulated$/);
  });

  it('parallel: ends at the run length while the CPUs stay busy (it stayed at their last halt)', async () => {
    const lines = await progressLines(['run', 'lost-update', '--mode', 'parallel', '--cpus', '2', '--duration', '30ms']);
    expect(lines.at(-1)).toMatch(/\] 100%\s+30\.0 \/ 30\.0 ms emulated$/);
  });

  it('draws the end of the run even right after another line', () => {
    const writes: string[] = [];
    const now = 0;
    const progress = createProgress('x', { isTTY: true, columns: 100, write: (s: string) => writes.push(s) }, () => now);
    progress.update(1e6, 10e6);
    progress.update(5e6, 10e6); // too soon: skipped
    progress.update(10e6, 10e6); // the end: drawn
    progress.update(10e6, 10e6); // drawn once
    expect(writes).toHaveLength(2);
    expect(writes[1]).toContain('10.0 / 10.0 ms emulated');
  });
});

// The per-actor summary of `npm run profile -- … --tool cpu-prof`: self time per function from a
// V8 .cpuprofile, and each thread's file named by the worker entry it ran.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { summarizeFolder, summarizeProfile } from '../../perf/cpuprofile-summary.js';

function profile(entry: string | null, samples: Array<[name: string, us: number]>) {
  const names = [...new Set(samples.map(([name]) => name))];
  const nodes = names.map((name, i) => ({
    id: i + 1,
    callFrame: { functionName: name, url: name.startsWith('(') ? '' : 'file:///x/dist/src/cpu/processor.js', lineNumber: i },
  }));
  if (entry) nodes.push({ id: 99, callFrame: { functionName: '', url: `file:///x/dist/workers/${entry}`, lineNumber: 0 } });
  return { nodes, samples: samples.map(([name]) => names.indexOf(name) + 1), timeDeltas: samples.map(([, us]) => us) };
}

describe('cpu-prof summary', () => {
  it('ranks functions by self time and leaves V8 idle out of the busy time', () => {
    const summary = summarizeProfile(
      profile(null, [
        ['run', 300],
        ['step', 100],
        ['run', 300],
        ['(idle)', 300],
      ]),
      10,
    );
    expect(summary.sampledMs).toBe(1);
    expect(summary.busyMs).toBeCloseTo(0.7);
    expect(summary.top.map((f) => f.name)).toEqual(['run src/cpu/processor.js:1', '(idle)', 'step src/cpu/processor.js:2']);
    expect(summary.top[0]!.share).toBeCloseTo(0.6);
  });

  it('names each thread by the worker entry it ran, CPUs numbered in thread-id order', () => {
    const dir = mkdtempSync(join(tmpdir(), 'irqlab-cpuprof-'));
    const write = (tid: number, entry: string | null) =>
      writeFileSync(join(dir, `CPU.20261206.072258.1.${tid}.001.cpuprofile`), JSON.stringify(profile(entry, [['run', 10]])));
    write(4, 'cpu.js');
    write(0, null);
    write(2, 'coordinator.js');
    write(3, 'cpu.js');
    write(1, 'cli.js');
    expect(summarizeFolder(dir).map((t) => `${t.threadId} ${t.actor}`)).toEqual(['0 main', '1 supervisor', '2 coordinator', '3 CPU 0', '4 CPU 1']);
  });
});

/**
 * Summarize the V8 CPU profiles a `node --cpu-prof` run writes, one per thread, as the top
 * functions by self time per actor. On the worker backend a sampling profiler attached to the main
 * thread (clinic) sees none of the CPU and coordinator workers; `--cpu-prof` makes every thread
 * write its own profile (CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile), and this names
 * each file's actor from the worker entry it ran (workers/cpu.js, workers/coordinator.js,
 * workers/cli.js). CPU workers are numbered in thread-id order, which is the order the machine
 * spawns them in (CPU 0 first, src/machine/machine.ts). Used by perf/profile.ts; also alone:
 * `node dist/perf/cpuprofile-summary.js DIR [--top N] [--json]`.
 */

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

/** The parts of V8's .cpuprofile format read here (Chrome DevTools Protocol, Profiler.Profile). */
interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionCost {
  /** function name, file and 1-based line ('(garbage collector)' and the like for V8's own) */
  name: string;
  selfMs: number;
  /** share of this thread's sampled time */
  share: number;
}

export interface ThreadProfile {
  file: string;
  threadId: number;
  /** 'main', 'supervisor', 'coordinator', 'CPU 0'… */
  actor: string;
  sampledMs: number;
  /** sampled time outside '(idle)' (the thread blocked in Atomics.wait shows as idle or as the wait itself) */
  busyMs: number;
  top: FunctionCost[];
}

function shortUrl(url: string): string {
  const at = url.search(/\/(dist\/)?(src|workers|perf)\//);
  if (at >= 0) return url.slice(at + 1).replace(/^dist\//, '');
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + 1);
  return url.replace(/^file:\/\//, '');
}

function roleOf(profile: CpuProfile): 'cpu' | 'coordinator' | 'supervisor' | 'main' {
  let role: 'cpu' | 'coordinator' | 'supervisor' | 'main' = 'main';
  for (const node of profile.nodes) {
    const url = node.callFrame.url;
    if (url.endsWith('/workers/cpu.js')) return 'cpu';
    if (url.endsWith('/workers/coordinator.js')) return 'coordinator';
    if (url.endsWith('/workers/cli.js')) role = 'supervisor';
  }
  return role;
}

/** Self time per function of one profile, the top `top`. */
export function summarizeProfile(profile: CpuProfile, top: number): { sampledMs: number; busyMs: number; top: FunctionCost[] } {
  const nameOf = new Map<number, string>();
  for (const node of profile.nodes) {
    const frame = node.callFrame;
    const name =
      frame.url === '' ? frame.functionName || '(anonymous)' : `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
    nameOf.set(node.id, name);
  }
  const selfUs = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const us = profile.timeDeltas[i] ?? 0;
    const name = nameOf.get(profile.samples[i]!) ?? '(unknown)';
    selfUs.set(name, (selfUs.get(name) ?? 0) + us);
    totalUs += us;
    if (name === '(idle)') idleUs += us;
  }
  const ranked = [...selfUs.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return {
    sampledMs: totalUs / 1000,
    busyMs: (totalUs - idleUs) / 1000,
    top: ranked.map(([name, us]) => ({ name, selfMs: us / 1000, share: totalUs > 0 ? us / totalUs : 0 })),
  };
}

/** Every .cpuprofile in `dir`, named by actor, main thread first, CPUs in order. */
export function summarizeFolder(dir: string, top = 10): ThreadProfile[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const threads = files.map((file) => {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    // CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile
    const threadId = Number(file.split('.')[4] ?? Number.NaN);
    return { file, threadId, role: roleOf(profile), ...summarizeProfile(profile, top) };
  });
  threads.sort((a, b) => a.threadId - b.threadId);
  let cpu = 0;
  return threads.map(({ role, ...rest }) => ({ ...rest, actor: role === 'cpu' ? `CPU ${cpu++}` : role }));
}

/**
 * The top functions by self samples of a clinic flame run: its `<pid>.clinic-flame-samples` file
 * holds one stack per sample (outermost frame first), so the last frame is where the time went.
 */
export function summarizeFlameSamples(file: string, top: number): { samples: number; top: Array<{ name: string; samples: number; share: number }> } {
  const stacks = JSON.parse(readFileSync(file, 'utf8')) as Array<Array<{ name: string; type: string }>>;
  const self = new Map<string, number>();
  for (const stack of stacks) {
    const leaf = stack[stack.length - 1];
    const name = leaf === undefined ? '(idle or unknown)' : `${leaf.name.trim()}${leaf.type === 'JS' ? '' : ` [${leaf.type}]`}`;
    self.set(name, (self.get(name) ?? 0) + 1);
  }
  const ranked = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return {
    samples: stacks.length,
    top: ranked.map(([name, samples]) => ({
      name: name.replace(/(?:file:\/\/)?\/\S*?\/(?:dist\/)?((?:src|workers|perf)\/)/, '$1'),
      samples,
      share: samples / Math.max(1, stacks.length),
    })),
  };
}

export function formatSummary(threads: readonly ThreadProfile[]): string {
  const lines: string[] = [];
  for (const thread of threads) {
    lines.push(
      `${thread.actor} (thread ${thread.threadId}): ${thread.sampledMs.toFixed(0)} ms sampled, ${thread.busyMs.toFixed(0)} ms outside V8's idle (a thread blocked in Atomics.wait counts here, under its waiting function)`,
    );
    for (const fn of thread.top) lines.push(`  ${(fn.share * 100).toFixed(1).padStart(5)}%  ${fn.selfMs.toFixed(1).padStart(8)} ms  ${fn.name}`);
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string' }, json: { type: 'boolean' } } });
  const dir = positionals[0];
  if (dir === undefined) {
    process.stderr.write('irqlab profile: name the folder that holds the .cpuprofile files\n');
    process.exit(1);
  }
  const threads = summarizeFolder(dir, values.top === undefined ? 10 : Number(values.top));
  process.stdout.write(values.json ? `${JSON.stringify(threads)}\n` : `${formatSummary(threads)}\n`);
}

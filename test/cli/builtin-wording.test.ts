// What a newcomer reads about the built-ins: ipi-pingpong reports in one unit (µs, like the rest of
// the summary), and the source articles are named by title, never "seeds" (which `--seed` means).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_SCENARIOS } from '../../src/scenarios/index.js';
import ipiPingpong from '../../src/scenarios/ipi-pingpong.js';
import { percentile } from '../../src/util/stats.js';
import { runOnWorkers } from '../smp/harness.js';

const root = join(import.meta.dirname, '..', '..');

describe('ipi-pingpong', () => {
  it('reports its round trips in µs only, as the summary tables do', async () => {
    const run = await runOnWorkers(ipiPingpong, { cpus: 2, durationMs: 5 });
    const results = run.result.results as Record<string, number>;
    expect(Object.keys(results).sort()).toEqual(['pongs', 'roundTripMaxUs', 'roundTripP50Us', 'roundTripP99Us', 'roundTrips']);
    const tripsNs = run
      .all(1)
      .map((e) => e.value)
      .sort((a, b) => a - b);
    expect(results.roundTrips).toBe(tripsNs.length);
    expect(results.roundTripP50Us).toBeCloseTo(percentile(tripsNs, 50) / 1000, 9);
    expect(results.roundTripMaxUs).toBeCloseTo(tripsNs.at(-1)! / 1000, 9);
  });
});

describe('the source articles', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');

  it("are named by title in 'irqlab list', never as seeds", () => {
    for (const builtin of BUILTIN_SCENARIOS) expect(builtin.description, builtin.name).not.toMatch(/\bseeds?\b|seed's/i);
    expect(BUILTIN_SCENARIOS.find((s) => s.name === 'irql-test')!.description).toContain("'Windows IRQL 1'");
    expect(BUILTIN_SCENARIOS.find((s) => s.name === 'periodic-dpc-timer')!.description).toContain('DPC 延迟调用');
  });

  it('are named by title in the README, and "seed" there only means --seed', () => {
    // 'First seeds' is `irqlab explore`'s column: the --seed values that showed an outcome first
    expect(readme).not.toMatch(/(first|second) seed\b|both seeds|seed's (driver|crash)/i);
    for (const title of ['"Windows IRQL 1"', 'DPC 延迟调用', '"시스템 메커니즘 05 - APC"', '"소프트웨어 인터럽트 요청 레벨(IRQL)"'])
      expect(readme).toContain(title);
  });
});

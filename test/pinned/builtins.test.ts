// Pinned behaviour: every built-in scenario, run in deterministic mode with a fixed seed and CPU
// count, gives the trace hash, bugcheck and results recorded in builtins.json. A
// restructuring must leave this table unchanged; a change to it is a behaviour change and needs
// its own reason in the commit. Regenerate with IRQLAB_UPDATE_PINNED=1 npx vitest run --config test/vitest.config.ts test/pinned.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_SCENARIOS } from '../../src/scenarios/index.js';
import { loadScenario } from '../../src/scenario/load.js';
import { runScenario } from '../../src/machine/run.js';

interface Pinned {
  cpus: number;
  seed: number;
  traceHash: string;
  traceEvents: number;
  bugcheck: { code: number; params: number[] } | null;
  results: unknown;
}

const TABLE = join(import.meta.dirname, 'builtins.json');
const SEED = 1;
const update = process.env.IRQLAB_UPDATE_PINNED === '1';
const table: Record<string, Pinned> = update ? {} : (JSON.parse(readFileSync(TABLE, 'utf8')) as Record<string, Pinned>);

async function pin(name: string): Promise<Pinned> {
  const loaded = await loadScenario(name);
  const cpus = loaded.definition.machine?.cpus ?? 2;
  const result = await runScenario(loaded, { cpus, mode: 'deterministic', seed: SEED });
  return {
    cpus,
    seed: SEED,
    traceHash: result.traceHash,
    traceEvents: result.traceEvents,
    bugcheck: result.bugcheck ? { code: result.bugcheck.code, params: result.bugcheck.params } : null,
    results: JSON.parse(JSON.stringify(result.results)) as unknown,
  };
}

describe('pinned behaviour of the built-in scenarios (deterministic mode)', () => {
  for (const { name } of BUILTIN_SCENARIOS) {
    it(`${name} gives its pinned trace hash, bugcheck and results`, async () => {
      const actual = await pin(name);
      if (update) table[name] = actual;
      else expect(actual).toEqual(table[name]);
    });
  }
  if (update) it('writes the table', () => writeFileSync(TABLE, `${JSON.stringify(table, null, 2)}\n`));
});

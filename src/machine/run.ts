/**
 * runScenario: the public entry for running a loaded scenario: validate it for the machine asked
 * for, then execute it (execute.ts). Main thread only.
 */

import type { RunResult } from './result.js';
import type { LoadedScenario } from '../scenario/load.js';
import { validateScenario } from '../scenario/validate.js';
import { executeScenario } from './execute.js';
import type { RunOptions } from './execute.js';

export type { RunOptions } from './execute.js';

export async function runScenario(loaded: LoadedScenario, options: RunOptions): Promise<RunResult> {
  const arch = (loaded.definition as { machine?: { arch?: 'x64' | 'x86' } }).machine?.arch ?? 'x64';
  const definition = validateScenario(loaded.definition, { cpus: options.cpus, arch });
  return executeScenario(definition, loaded.modulePath, options);
}

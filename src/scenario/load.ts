/**
 * Load a scenario module: a built-in by name (src/scenarios/index.ts) or a file (.ts, .mts, .js,
 * .mjs). Files are imported through module-loader.ts (jiti: transformed in memory, nothing written
 * beside them, the bare specifier 'irqlab' bound to the running irqlab); workers import
 * `modulePath` the same way to reach the same default export (native routines). Every failure is a
 * ScenarioError with a one-line message; a syntax error names file:line:col.
 *
 * The definition is not validated here (src/scenario/validate.ts does that, for a CPU count).
 */

import { existsSync, statSync } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ScenarioDefinition } from './define.js';
import { importScenarioModule, parseErrorLocation } from './module-loader.js';
import { findBuiltinScenario } from '../scenarios/index.js';
import { ScenarioError } from '../util/errors.js';

export interface LoadedScenario {
  /** the module's default export; not validated yet */
  definition: ScenarioDefinition;
  /** the built-in name, or the absolute path of the file */
  source: string;
  kind: 'builtin' | 'file';
  /** absolute path of the module whose default export is the definition (workers import it for native routines) */
  modulePath: string;
  /** nothing to release any more (loading writes no file); kept so that callers written for it still work */
  dispose(): void;
}

const JS_EXTENSIONS = new Set(['.js', '.mjs']);
const TS_EXTENSIONS = new Set(['.ts', '.mts']);

const runningFromSource = fileURLToPath(import.meta.url).endsWith('.ts');

export async function loadScenario(nameOrPath: string): Promise<LoadedScenario> {
  const builtin = findBuiltinScenario(nameOrPath);
  if (builtin) return loadBuiltin(builtin.name, builtin.file);
  return loadFile(nameOrPath);
}

async function loadBuiltin(name: string, file: string): Promise<LoadedScenario> {
  let path = fileURLToPath(new URL(`../scenarios/${file}`, import.meta.url));
  if (!existsSync(path) && runningFromSource) path = path.replace(/\.js$/, '.ts');
  const definition = await importDefault(path, name);
  return { definition, source: name, kind: 'builtin', modulePath: path, dispose: () => {} };
}

async function loadFile(given: string): Promise<LoadedScenario> {
  const path = resolve(given);
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch {
    throw new ScenarioError(`scenario '${given}' is neither a built-in scenario (see 'irqlab list') nor a file`);
  }
  if (!isFile) throw new ScenarioError(`scenario '${given}' is not a file`);
  const extension = extname(path).toLowerCase();
  if (!JS_EXTENSIONS.has(extension) && !TS_EXTENSIONS.has(extension)) {
    throw new ScenarioError(`cannot load scenario '${given}': unsupported file type '${extension || '(none)'}' (use .ts, .mts, .js or .mjs)`);
  }
  const definition = await importDefault(path, given);
  return { definition, source: path, kind: 'file', modulePath: path, dispose: () => {} };
}

async function importDefault(path: string, given: string): Promise<ScenarioDefinition> {
  let module: unknown;
  try {
    module = await importScenarioModule(path);
  } catch (error) {
    const syntax = parseErrorLocation(error);
    if (syntax) {
      const where = `${basename(syntax.file)}:${syntax.line}:${syntax.column}`;
      // the wording each language's users know: tsc's "file:line:col: message", Node's "SyntaxError: message (file:line)"
      const text = TS_EXTENSIONS.has(extname(syntax.file).toLowerCase()) ? `${where}: ${syntax.message}` : `SyntaxError: ${syntax.message} (${where})`;
      throw new ScenarioError(`cannot load scenario '${given}': ${text}`, { cause: error });
    }
    throw new ScenarioError(`cannot load scenario '${given}': ${firstLine(describe(error))}`, { cause: error });
  }
  const definition = typeof module === 'object' && module !== null ? (module as { default?: unknown }).default : undefined;
  if (definition === undefined) {
    throw new ScenarioError(`cannot load scenario '${given}': it has no default export (export default defineScenario({ … }))`);
  }
  if (definition === null || typeof definition !== 'object' || Array.isArray(definition)) {
    const what = definition === null ? 'null' : Array.isArray(definition) ? 'an array' : `a ${typeof definition}`;
    throw new ScenarioError(`cannot load scenario '${given}': its default export is ${what}, not a scenario object`);
  }
  return definition as ScenarioDefinition;
}

/** An error as one line: `SyntaxError: Unexpected token '}' (bad.mjs:3)`, `boom`, … */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const message = firstLine(error.message) || error.name;
  const prefix = error.name && error.name !== 'Error' && !message.startsWith(error.name) ? `${error.name}: ` : '';
  let where = '';
  if (error.name === 'SyntaxError' && typeof error.stack === 'string') {
    // Node puts the location of a module's syntax error first in the stack: "file:///…/x.mjs:3"
    const location = /^(file:\/\/\S+?|\/\S+?):(\d+)\s*$/m.exec(error.stack.split('\n', 1)[0] ?? '');
    if (location) where = ` (${basename(location[1]!.startsWith('file:') ? fileURLToPath(location[1]!) : location[1]!)}:${location[2]})`;
  }
  return `${prefix}${message}${where}`;
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0]!.trim();
}

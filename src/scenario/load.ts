/**
 * Load a scenario module: a built-in by name (src/scenarios/index.ts) or a file. JavaScript
 * (.js/.mjs) is imported as is; TypeScript (.ts/.mts) is transpiled with the `typescript` package
 * (a devDependency, loaded only when needed) into a temporary `.irqlab-<name>.<random>.mjs` next
 * to the original, so that its relative imports resolve the same way, with the bare specifier
 * 'irqlab' pointed at this package. Workers import `modulePath` to reach the same default export
 * (native routines). Main thread only. Every failure is a ScenarioError with a one-line message.
 *
 * The definition is not validated here (src/scenario/validate.ts does that, for a CPU count).
 */

import { existsSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ScenarioDefinition } from './define.js';
import { findBuiltinScenario } from '../scenarios/index.js';
import { ScenarioError } from '../util/errors.js';

export interface LoadedScenario {
  /** the module's default export; not validated yet */
  definition: ScenarioDefinition;
  /** the built-in name, or the absolute path of the file */
  source: string;
  kind: 'builtin' | 'file';
  /** absolute path of a JS module whose default export is the same definition (workers import it for native routines) */
  modulePath: string;
  /** remove the temporary files made to load it (idempotent) */
  dispose(): void;
}

type TypeScriptModule = typeof import('typescript');

const JS_EXTENSIONS = new Set(['.js', '.mjs']);
const TS_EXTENSIONS = new Set(['.ts', '.mts']);

/** The prefix of the temporary modules made from TypeScript scenarios (.gitignore: `.irqlab-*`). */
export const TEMP_PREFIX = '.irqlab-';

const thisFile = fileURLToPath(import.meta.url);
const runningFromSource = thisFile.endsWith('.ts');

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
  if (JS_EXTENSIONS.has(extension)) {
    try {
      const definition = await importDefault(path, given);
      return { definition, source: path, kind: 'file', modulePath: path, dispose: () => {} };
    } catch (error) {
      // Node's SyntaxError does not say where; TypeScript's parser can, when it is installed
      if (error instanceof ScenarioError && error.cause instanceof SyntaxError) {
        const where = await syntaxErrorLocation(path);
        if (where) throw new ScenarioError(`${error.message} (${where})`, { cause: error.cause });
      }
      throw error;
    }
  }
  if (!TS_EXTENSIONS.has(extension)) {
    throw new ScenarioError(`cannot load scenario '${given}': unsupported file type '${extension || '(none)'}' (use .ts, .mts, .js or .mjs)`);
  }

  const ts = await loadTypeScript(given);
  const temp = transpileToTemp(ts, path, given);
  const cleanup = (): void => {
    try {
      unlinkSync(temp);
    } catch {
      // already gone
    }
  };
  process.once('exit', cleanup);
  let disposed = false;
  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    process.removeListener('exit', cleanup);
    cleanup();
  };
  try {
    const definition = await importDefault(temp, given);
    return { definition, source: path, kind: 'file', modulePath: temp, dispose };
  } catch (error) {
    dispose();
    throw error;
  }
}

/** Load `typescript`: this package's copy first, then one installed where the command runs. */
async function loadTypeScript(given: string): Promise<TypeScriptModule> {
  const unwrap = (module: { default?: TypeScriptModule } & Partial<TypeScriptModule>): TypeScriptModule =>
    (module.default ?? module) as TypeScriptModule;
  try {
    return unwrap(await import('typescript'));
  } catch {
    // not installed next to irqlab: try the user's project
  }
  try {
    const resolved = createRequire(join(process.cwd(), 'noop.js')).resolve('typescript');
    return unwrap(await import(pathToFileURL(resolved).href));
  } catch {
    throw new ScenarioError(
      `cannot load scenario '${given}': TypeScript scenarios need the 'typescript' package (npm install --save-dev typescript); or write the scenario as a .js/.mjs file`,
    );
  }
}

/** `file.mjs:5:1` for the first syntax error TypeScript's parser finds in a JS file, or null. */
async function syntaxErrorLocation(path: string): Promise<string | null> {
  try {
    const ts = await loadTypeScript(path);
    const output = ts.transpileModule(readFileSync(path, 'utf8'), {
      fileName: path.replace(/\.m?js$/i, '.mjs'),
      reportDiagnostics: true,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, allowJs: true },
    });
    const first = (output.diagnostics ?? []).find((d) => d.category === ts.DiagnosticCategory.Error && d.file && d.start !== undefined);
    if (!first) return null;
    const { line, character } = first.file!.getLineAndCharacterOfPosition(first.start!);
    return `${basename(path)}:${line + 1}:${character + 1}`;
  } catch {
    return null;
  }
}

/** The package root: the nearest directory above this module with irqlab's package.json. */
function packageRoot(): string {
  let dir = dirname(thisFile);
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      try {
        if ((JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string }).name === 'irqlab') return dir;
      } catch {
        // not ours
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new ScenarioError("cannot find irqlab's package.json above " + dirname(thisFile));
    dir = parent;
  }
}

/** The module a scenario's `import … from 'irqlab'` gets: the built package, or its source under a test runner. */
export function irqlabEntryUrl(): string {
  const root = packageRoot();
  const built = join(root, 'dist', 'src', 'index.js');
  if (existsSync(built) || !runningFromSource) return pathToFileURL(built).href;
  return pathToFileURL(join(root, 'src', 'index.ts')).href;
}

/** Rewrite the bare specifier 'irqlab' in static imports, re-exports and dynamic imports. */
export function rewriteIrqlabSpecifier(code: string, target: string): string {
  return code.replace(/(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])irqlab\2/g, (_m, lead: string, quote: string) => `${lead}${quote}${target}${quote}`);
}

function transpileToTemp(ts: TypeScriptModule, path: string, given: string): string {
  const source = readFileSync(path, 'utf8');
  const output = ts.transpileModule(source, {
    fileName: path,
    reportDiagnostics: true,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      sourceMap: false,
      inlineSourceMap: true,
      inlineSources: false,
      verbatimModuleSyntax: false,
      isolatedModules: true,
    },
  });
  const errors = (output.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length > 0) {
    const first = errors[0]!;
    const text = ts.flattenDiagnosticMessageText(first.messageText, ' ');
    let where = basename(path);
    if (first.file && first.start !== undefined) {
      const { line, character } = first.file.getLineAndCharacterOfPosition(first.start);
      where += `:${line + 1}:${character + 1}`;
    }
    throw new ScenarioError(`cannot load scenario '${given}': ${where}: ${firstLine(text)}`);
  }
  const code = rewriteIrqlabSpecifier(output.outputText, irqlabEntryUrl());
  const stem = basename(path).replace(/\.[cm]?ts$/i, '');
  const temp = join(dirname(path), `${TEMP_PREFIX}${stem}.${randomBytes(6).toString('hex')}.mjs`);
  try {
    writeFileSync(temp, code);
  } catch (error) {
    throw new ScenarioError(`cannot load scenario '${given}': cannot write ${temp}: ${firstLine(describe(error))}`, { cause: error });
  }
  return temp;
}

async function importDefault(path: string, given: string): Promise<ScenarioDefinition> {
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (error) {
    throw new ScenarioError(`cannot load scenario '${given}': ${firstLine(describe(error))}`, { cause: error });
  }
  const definition = module.default;
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

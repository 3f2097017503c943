// Module hooks for run.mjs: resolve ./x.js to ./x.ts when only the .ts exists, and strip types
// (with oxc from rolldown, which vite brings; else with typescript, a devDependency).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const strip = await import('rolldown/experimental').then(
  ({ transformSync }) => (file, source) => {
    const { code, errors } = transformSync(file, source, { lang: 'ts', sourcemap: false });
    if (errors?.length) throw new Error(`${file}: ${errors.map((e) => e.message).join('; ')}`);
    return code;
  },
  async () => {
    const ts = (await import('typescript')).default;
    return (file, source) => ts.transpileModule(source, { fileName: file, compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  },
);

export async function resolve(specifier, context, next) {
  if (specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) {
    const ts = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL);
    if (existsSync(fileURLToPath(ts))) return { url: ts.href, shortCircuit: true, format: 'module' };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (!url.endsWith('.ts')) return next(url, context);
  const file = fileURLToPath(url);
  return { format: 'module', source: strip(file, await readFile(file, 'utf8')), shortCircuit: true };
}

// Build steps of the TypeScript server plugin (see index.ts), used by scripts/build.mjs, the tests and packaging:
//   - specDeclarations(): the self-contained "resnet-studio" declaration file (dist/types/resnet-studio.d.ts), made by
//     the TypeScript compiler's declaration emit from api.ts, then flattened into one module here;
//   - writePluginStub(): the package tsserver loads, <extension>/node_modules/resnet-studio-tsserver-plugin, a
//     one-line stub requiring the bundled plugin (dist/tsserver-plugin/index.js);
//   - addPluginStubToVsix(): the same stub added to a packaged .vsix. `vsce package --no-dependencies` never packs a
//     node_modules folder (vsce globs the tree with `ignore: "node_modules/**"`, whatever .vscodeignore says), yet
//     tsserver only loads plugins from `<probe location>/node_modules/<name>`.
// CLI: `node extension/tsserver-plugin/build.mjs vsix <file.vsix>` (run by the "package" script after vsce).
import { existsSync, mkdirSync, renameSync, writeFileSync, createWriteStream } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const require = createRequire(import.meta.url);

export const PLUGIN_NAME = "resnet-studio-tsserver-plugin";
/** Paths relative to the extension root (the repo root, or `extension/` inside a .vsix). */
export const PLUGIN_ENTRY = "extension/tsserver-plugin/index.ts";
export const PLUGIN_BUNDLE = "dist/tsserver-plugin/index.js";
export const DECLARATION_FILE = "dist/types/resnet-studio.d.ts";
const API_ENTRY = "extension/tsserver-plugin/api.ts";

/** The files of the plugin package tsserver loads, relative to the extension root. */
export function pluginStubFiles() {
  const dir = `node_modules/${PLUGIN_NAME}`;
  const bundle = relative(dir, PLUGIN_BUNDLE).replace(/\\/g, "/");
  return [
    {
      path: `${dir}/package.json`,
      text: `${JSON.stringify({ name: PLUGIN_NAME, version: "0.0.0", private: true, main: "index.js" }, null, 2)}\n`,
    },
    {
      path: `${dir}/index.js`,
      text:
        `// Written by extension/tsserver-plugin/build.mjs. tsserver loads contributed plugins from <extension>/node_modules/<name>;\n` +
        `// the plugin itself is bundled as ${PLUGIN_BUNDLE}.\n` +
        `const plugin = require(${JSON.stringify(bundle)});\nmodule.exports = plugin.default || plugin;\n`,
    },
  ];
}

export function writePluginStub(extensionRoot = root) {
  for (const f of pluginStubFiles()) {
    mkdirSync(dirname(join(extensionRoot, f.path)), { recursive: true });
    writeFileSync(join(extensionRoot, f.path), f.text);
  }
}

function fail(message) {
  throw new Error(`resnet-studio.d.ts: ${message}`);
}

/**
 * The "resnet-studio" module's declarations as one self-contained file: tsc's declaration emit of api.ts and the
 * model-core files it reaches, with the internal imports dropped, the `export` modifiers removed, and one export
 * list naming exactly what api.ts exports (an export list also stops a .d.ts from exporting every declaration).
 * Anything it cannot flatten faithfully (a non-relative import, `import("…")` types, renamed imports, clashing
 * names) fails the build rather than producing wrong typings.
 */
export function specDeclarations(ts = require("typescript"), repoRoot = root) {
  const entry = resolve(repoRoot, API_ENTRY);
  const options = {
    declaration: true,
    emitDeclarationOnly: true,
    strict: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2022.d.ts"],
    types: [],
    noEmit: false,
  };
  const program = ts.createProgram([entry], options);
  const problems = ts.getPreEmitDiagnostics(program);
  if (problems.length > 0)
    fail(
      ts.formatDiagnostics(problems, {
        getCanonicalFileName: (f) => f,
        getCurrentDirectory: () => repoRoot,
        getNewLine: () => "\n",
      }),
    );
  /** Emitted .d.ts text by the absolute path of its source, without extension. */
  const emitted = new Map();
  const result = program.emit(
    undefined,
    (fileName, text, _bom, _onError, sources) => {
      const source = sources?.[0]?.fileName;
      if (!source) fail(`no source for ${fileName}`);
      emitted.set(resolve(source).replace(/\.ts$/, ""), text);
    },
    undefined,
    true,
  );
  if (result.emitSkipped) fail("declaration emit was skipped");

  const keyOf = (from, specifier) => {
    if (!specifier.startsWith("."))
      fail(`${relative(repoRoot, from)}.ts imports "${specifier}": the typings must not depend on other packages`);
    const key = resolve(dirname(from), specifier).replace(/\.(ts|js)$/, "");
    if (!emitted.has(key))
      fail(`${relative(repoRoot, from)}.ts imports "${specifier}", which is not part of the emitted declarations`);
    return key;
  };
  const hasModifier = (node, kind) =>
    (ts.canHaveModifiers(node) ? (ts.getModifiers(node) ?? []) : []).some((m) => m.kind === kind);
  const declaredNames = (statement) => {
    if (ts.isVariableStatement(statement))
      return statement.declarationList.declarations.map((d) =>
        ts.isIdentifier(d.name) ? d.name.text : fail("destructuring declaration"),
      );
    if (statement.name && ts.isIdentifier(statement.name)) return [statement.name.text];
    return fail(`unexpected statement: ${statement.getText().slice(0, 80)}`);
  };

  const entryKey = entry.replace(/\.ts$/, "");
  /** Exported names per file, and who declares each name. */
  const exportsOf = new Map();
  const owner = new Map();
  const chunks = [];
  for (const [key, text] of emitted) {
    if (key === entryKey) continue;
    const where = `${relative(repoRoot, key)}.d.ts`;
    if (/\bimport\s*\(/.test(text)) fail(`${where} uses an import("…") type`);
    if (/\/\/\/\s*<reference/.test(text)) fail(`${where} has a triple-slash reference`);
    const sf = ts.createSourceFile(`${key}.d.ts`, text, ts.ScriptTarget.ES2022, true);
    const exported = new Set();
    const kept = [];
    for (const statement of sf.statements) {
      if (ts.isImportDeclaration(statement)) {
        keyOf(key, statement.moduleSpecifier.text);
        const clause = statement.importClause;
        if (clause?.name || (clause?.namedBindings && !ts.isNamedImports(clause.namedBindings)))
          fail(`${where}: default or namespace import`);
        for (const el of clause?.namedBindings?.elements ?? [])
          if (el.propertyName && el.propertyName.text !== el.name.text)
            fail(`${where}: renamed import ${el.name.text}`);
        continue;
      }
      if (ts.isExportDeclaration(statement)) {
        if (
          !statement.moduleSpecifier &&
          statement.exportClause &&
          ts.isNamedExports(statement.exportClause) &&
          statement.exportClause.elements.length === 0
        )
          continue;
        fail(`${where}: re-exports are only supported in ${API_ENTRY}`);
      }
      if (ts.isExportAssignment(statement) || hasModifier(statement, ts.SyntaxKind.DefaultKeyword))
        fail(`${where}: default export`);
      const names = declaredNames(statement);
      for (const name of names) {
        const previous = owner.get(name);
        if (previous !== undefined && previous !== key)
          fail(`${name} is declared in both ${relative(repoRoot, previous)} and ${relative(repoRoot, key)}`);
        owner.set(name, key);
      }
      let body = text.slice(statement.getFullStart(), statement.end);
      if (hasModifier(statement, ts.SyntaxKind.ExportKeyword)) {
        for (const name of names) exported.add(name);
        const mod = ts.getModifiers(statement).find((m) => m.kind === ts.SyntaxKind.ExportKeyword);
        const from = mod.getStart(sf) - statement.getFullStart();
        body = body.slice(0, from) + body.slice(from + "export".length).replace(/^\s+/, "");
      }
      kept.push(body.replace(/^\n+/, ""));
    }
    exportsOf.set(key, exported);
    chunks.push(`// ---- from ${relative(repoRoot, key).replace(/\\/g, "/")}.ts\n${kept.join("\n")}`);
  }

  // The public surface: what api.ts (re-)exports.
  const entrySf = ts.createSourceFile(
    `${entryKey}.d.ts`,
    emitted.get(entryKey) ?? fail("no declarations for the API entry"),
    ts.ScriptTarget.ES2022,
    true,
  );
  const publicNames = [];
  for (const statement of entrySf.statements) {
    if (!ts.isExportDeclaration(statement) || !statement.moduleSpecifier)
      fail(`${API_ENTRY} may only re-export (found: ${statement.getText().slice(0, 80)})`);
    const target = keyOf(entryKey, statement.moduleSpecifier.text);
    const available = exportsOf.get(target);
    if (!statement.exportClause) publicNames.push(...available);
    else if (ts.isNamedExports(statement.exportClause)) {
      for (const el of statement.exportClause.elements) {
        if (el.propertyName && el.propertyName.text !== el.name.text)
          fail(`${API_ENTRY}: renamed export ${el.name.text}`);
        if (!available.has(el.name.text))
          fail(`${API_ENTRY}: ${el.name.text} is not exported by ${relative(repoRoot, target)}`);
        publicNames.push(el.name.text);
      }
    } else fail(`${API_ENTRY}: namespace re-export`);
  }
  const names = [...new Set(publicNames)];
  return [
    `// The typings of the "resnet-studio" module for .resnet.ts specs, shipped with the ResNet Studio extension and`,
    `// used by its TypeScript server plugin when the package is not installed. Generated by`,
    `// extension/tsserver-plugin/build.mjs from model-core's spec API (${API_ENTRY}); do not edit.`,
    "",
    chunks.join("\n\n"),
    "",
    `export { ${names.join(", ")} };`,
    "",
  ].join("\n");
}

export function writeSpecDeclarations(extensionRoot = root, ts = require("typescript")) {
  const file = join(extensionRoot, DECLARATION_FILE);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, specDeclarations(ts));
  return file;
}

/** yauzl and yazl, the zip libraries vsce itself uses, resolved from @vscode/vsce. */
function zipLibraries() {
  const fromVsce = createRequire(require.resolve("@vscode/vsce/package.json", { paths: [root] }));
  return { yauzl: fromVsce("yauzl"), yazl: fromVsce("yazl") };
}

/** Rewrites `vsixPath` with the plugin stub under extension/node_modules/ (replacing an older copy). */
export async function addPluginStubToVsix(vsixPath) {
  const { yauzl, yazl } = zipLibraries();
  const added = pluginStubFiles().map((f) => ({ name: `extension/${f.path}`, data: Buffer.from(f.text) }));
  const addedNames = new Set(added.map((f) => f.name));
  const out = new yazl.ZipFile();
  const names = [];
  await new Promise((done, failed) => {
    yauzl.open(vsixPath, { lazyEntries: true }, (err, zip) => {
      if (err) return failed(err);
      zip.on("error", failed);
      zip.on("end", done);
      zip.on("entry", (entry) => {
        names.push(entry.fileName);
        if (/\/$/.test(entry.fileName) || addedNames.has(entry.fileName)) return zip.readEntry();
        zip.openReadStream(entry, (e, stream) => {
          if (e) return failed(e);
          const parts = [];
          stream.on("data", (c) => parts.push(c));
          stream.on("error", failed);
          stream.on("end", () => {
            out.addBuffer(Buffer.concat(parts), entry.fileName, {
              mtime: entry.getLastModDate(),
              mode: entry.externalFileAttributes >>> 16 || undefined,
            });
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
  if (!names.includes(`extension/${PLUGIN_BUNDLE}`))
    throw new Error(
      `${vsixPath} lacks extension/${PLUGIN_BUNDLE}: build first and let .vscodeignore through dist/tsserver-plugin/`,
    );
  if (!names.includes(`extension/${DECLARATION_FILE}`))
    throw new Error(
      `${vsixPath} lacks extension/${DECLARATION_FILE}: build first and let .vscodeignore through dist/types/`,
    );
  for (const f of added) out.addBuffer(f.data, f.name);
  out.end();
  const tmp = `${vsixPath}.tmp`;
  await new Promise((done, failed) => {
    const stream = createWriteStream(tmp);
    stream.on("close", done);
    stream.on("error", failed);
    out.outputStream.pipe(stream);
  });
  renameSync(tmp, vsixPath);
  return added.map((f) => f.name);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [command, file] = process.argv.slice(2);
  if (command !== "vsix" || !file || !existsSync(file)) {
    console.error("usage: node extension/tsserver-plugin/build.mjs vsix <file.vsix>");
    process.exit(2);
  }
  // No top-level await: the tests load this module through tsx's CommonJS transform.
  addPluginStubToVsix(resolve(file)).then(
    (added) => console.log(`added to ${file}: ${added.join(", ")}`),
    (err) => {
      console.error(err instanceof Error ? err.message : err);
      process.exitCode = 1;
    },
  );
}

/**
 * A TypeScript server plugin (contributed through `contributes.typescriptServerPlugins`) that lets `.resnet.ts` specs
 * type-check in a workspace where the `resnet-studio` package is not installed: when tsserver's own module
 * resolution finds nothing for the specifier "resnet-studio", it resolves it to the declaration file the extension
 * ships (dist/types/resnet-studio.d.ts, generated from model-core's spec API by build.mjs here). An installed
 * package always wins: the plugin only fills in failed resolutions.
 *
 * tsserver loads the plugin as `<extension>/node_modules/resnet-studio-tsserver-plugin` (VS Code passes the
 * extension folder as a plugin probe location); that package is a one-line stub requiring this bundle
 * (dist/tsserver-plugin/index.js), so the declaration file is `../types/resnet-studio.d.ts` from here.
 * Only `import type` of typescript: the plugin uses the TypeScript instance tsserver hands it.
 */
import type * as ts from "typescript";
import { existsSync } from "node:fs";
import { join } from "node:path";

export const SPEC_MODULE = "resnet-studio";

/** Where the bundled declaration file is, relative to this bundle (dist/tsserver-plugin/index.js). */
export function bundledDeclarationFile(bundleDir: string): string {
  return join(bundleDir, "..", "types", "resnet-studio.d.ts");
}

/** TypeScript's "not assignable" errors, plain and with "Did you mean …?". */
const NOT_ASSIGNABLE_CODES = new Set([2322, 2820]);
const STRING_NOT_ASSIGNABLE = /^Type '(["'`]).*\1' is not assignable to type /;

/**
 * A TypeScript error a spec's own diagnostic already reports: a string literal outside its option's values
 * (`block: "basik"`). ResNet Studio's diagnostic owns it: it is located on the value, names the allowed values and
 * carries the quick fix to the nearest one, and the CLI reports the same; TypeScript's would say it a second time.
 */
export function reportedByResNetStudio(fileName: string, message: string, code: number): boolean {
  return fileName.endsWith(".resnet.ts") && NOT_ASSIGNABLE_CODES.has(code) && STRING_NOT_ASSIGNABLE.test(message);
}

type ResolveLiterals = NonNullable<ts.LanguageServiceHost["resolveModuleNameLiterals"]>;
type ResolveNames = NonNullable<ts.LanguageServiceHost["resolveModuleNames"]>;

function init(modules: { typescript: typeof ts }): ts.server.PluginModule {
  const typescript = modules.typescript;

  function create(info: ts.server.PluginCreateInfo): ts.LanguageService {
    const log = (message: string): void =>
      info.project.projectService.logger.info(`[resnet-studio-tsserver-plugin] ${message}`);
    const declarationFile = bundledDeclarationFile(__dirname);
    if (!existsSync(declarationFile)) {
      log(`${declarationFile} is missing; "${SPEC_MODULE}" imports stay unresolved`);
      return info.languageService;
    }
    const fallback: ts.ResolvedModuleFull = {
      resolvedFileName: declarationFile,
      extension: typescript.Extension.Dts,
      // Like a package from node_modules: tsserver reports no errors inside it and never emits it.
      isExternalLibraryImport: true,
    };
    let announced = false;
    const announce = (containingFile: string): void => {
      if (announced) return;
      announced = true;
      log(`"${SPEC_MODULE}" is not installed for ${containingFile}; using ${declarationFile}`);
    };

    // The project is the language service host; the language service re-reads these hooks on every program update.
    const host = info.languageServiceHost;
    const originalLiterals = host.resolveModuleNameLiterals?.bind(host);
    if (originalLiterals) {
      const patched: ResolveLiterals = (moduleLiterals, containingFile, ...rest) => {
        const results = originalLiterals(moduleLiterals, containingFile, ...rest);
        return results.map((result, i) => {
          if (result.resolvedModule || moduleLiterals[i]?.text !== SPEC_MODULE) return result;
          announce(containingFile);
          return { ...result, resolvedModule: fallback };
        });
      };
      host.resolveModuleNameLiterals = patched;
    }
    const originalNames = host.resolveModuleNames?.bind(host);
    if (originalNames) {
      const patched: ResolveNames = (moduleNames, containingFile, ...rest) => {
        const results = originalNames(moduleNames, containingFile, ...rest);
        return results.map((result, i) => {
          if (result || moduleNames[i] !== SPEC_MODULE) return result;
          announce(containingFile);
          return fallback;
        });
      };
      host.resolveModuleNames = patched;
    }
    if (!originalLiterals && !originalNames) log("the host has no module resolution hook to extend; nothing done");
    const service = info.languageService;
    return {
      ...service,
      getSemanticDiagnostics: (fileName) =>
        service
          .getSemanticDiagnostics(fileName)
          .filter(
            (d) =>
              !reportedByResNetStudio(fileName, typescript.flattenDiagnosticMessageText(d.messageText, "\n"), d.code),
          ),
    };
  }

  return { create };
}

export default init;

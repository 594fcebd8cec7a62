// Lint: typescript-eslint's recommended and type-checked rules. Formatting is prettier's (`npm run format:check`),
// so no stylistic rules are enabled here.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  {
    ignores: [
      "**/node_modules/",
      "**/dist/",
      ".bench/",
      "examples/",
      "test/fixtures/",
      "**/*.resnet.ts",
      "*.vsix",
      "**/*.d.mts",
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      // Each TypeScript file is checked with the tsconfig of its folder: model-core, extension, webview, test, bench
      // and extension/tsserver-plugin.
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A leading underscore marks a parameter or binding kept on purpose (an interface's signature, a field omitted
      // from a rest spread).
      "@typescript-eslint/no-unused-vars": [
        "error",
        {
          argsIgnorePattern: "^_",
          varsIgnorePattern: "^_",
          caughtErrorsIgnorePattern: "^_",
          destructuredArrayIgnorePattern: "^_",
          ignoreRestSiblings: true,
        },
      ],
      // node:test's test() and describe() return promises that the runner itself awaits.
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          allowForKnownSafeCalls: [
            { from: "package", package: "node:test", name: ["test", "it", "describe", "suite", "before", "after"] },
          ],
        },
      ],
    },
  },
  {
    // Build and test scripts and the CLI launcher are plain JavaScript outside every tsconfig: untyped rules only.
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      // The Node globals these scripts use (the "globals" package is not a dependency of this project).
      globals: { console: "readonly", process: "readonly", Buffer: "readonly", URL: "readonly" },
    },
  },
  {
    // CommonJS (package.json has no "type"): require() is its module system.
    files: ["**/*.js", "**/*.cjs"],
    languageOptions: { sourceType: "commonjs", globals: { __dirname: "readonly" } },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);

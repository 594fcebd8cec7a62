// Types of build.mjs for the tests (test/typings*.test.ts).
import type * as ts from "typescript";
export const PLUGIN_NAME: string;
export const PLUGIN_ENTRY: string;
export const PLUGIN_BUNDLE: string;
export const DECLARATION_FILE: string;
export function pluginStubFiles(): { path: string; text: string }[];
export function writePluginStub(extensionRoot?: string): void;
export function specDeclarations(typescript?: typeof ts, repoRoot?: string): string;
export function writeSpecDeclarations(extensionRoot?: string, typescript?: typeof ts): string;
export function addPluginStubToVsix(vsixPath: string): Promise<string[]>;

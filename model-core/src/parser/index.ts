/** The static `.resnet.ts` parser (pure: TypeScript's syntax tree only, the file is never run). */
export {
  evaluateSpecText,
  validateEvaluated,
  type ParsedSpec,
  type ParseOptions,
  type EvaluatedSpecFile,
} from "./parse";
export { SPEC_MODULE } from "./evaluate";

/**
 * The builders users call in `.resnet.ts` files (`resnet({...})`, `stage({...})`) and the validation that
 * turns loose options into a fully resolved ResNetSpec. Validation never throws: it reports every problem
 * with the path of the offending value so the parser can point at it in the source.
 */
import { SpecError, quoteName, type Diagnostic, type DiagnosticCode } from "../diagnostics";
import type {
  BlockKind,
  NormKind,
  ResNetOptions,
  ResNetSpec,
  Shape3,
  ShortcutOption,
  ShortcutVariant,
  SpecIssue,
  StageOptions,
  StageSpec,
  StemKind,
} from "./types";

type Path = (string | number)[];

export const STEM_KINDS: readonly StemKind[] = ["imagenet", "cifar"];
export const BLOCK_KINDS: readonly BlockKind[] = ["basic", "bottleneck"];
export const SHORTCUT_OPTIONS: readonly ShortcutOption[] = ["A", "B", "C"];
export const NORM_KINDS: readonly NormKind[] = ["batchnorm", "none"];
export const SHORTCUT_VARIANT_KINDS: readonly ShortcutVariant["kind"][] = [
  "identity",
  "constantScaling",
  "exclusiveGating",
  "shortcutOnlyGating",
  "conv1x1",
  "dropout",
];

/** Every key resnet() accepts, in the README table's order (a spelled-out network lists its options so). */
export const OPTION_KEYS: readonly (keyof ResNetOptions)[] = [
  "name",
  "input",
  "stem",
  "block",
  "stages",
  "shortcut",
  "shortcutVariant",
  "preActivation",
  "residual",
  "norm",
  "groups",
  "widthPerGroup",
  "classes",
  "zeroInitResidual",
];
const STAGE_KEYS: readonly (keyof StageOptions)[] = ["channels", "blocks", "stride"];

/**
 * Default parameters of each shortcut variant when only its kind is given.
 * He et al. 2016 Table 1: constant scaling with λ = 0.5 on the shortcut and 1−λ = 0.5 on the branch;
 * gate bias b_g = −6 (the paper's best shortcut-only gating row; σ(−6) ≈ 0 so 1−g ≈ 1 and the shortcut
 * starts almost as identity), used for both gates; dropout on the shortcut with rate 0.5.
 */
export function defaultShortcutVariant(kind: ShortcutVariant["kind"]): ShortcutVariant {
  switch (kind) {
    case "identity":
      return { kind };
    case "constantScaling":
      return { kind, lambda: 0.5, residualScale: 0.5 };
    case "exclusiveGating":
      return { kind, gateBias: -6 };
    case "shortcutOnlyGating":
      return { kind, gateBias: -6 };
    case "conv1x1":
      return { kind };
    case "dropout":
      return { kind, rate: 0.5 };
  }
}

/** `"a"`, `"a" or "b"`, `"a", "b" or "c"`. */
function listAlternatives(values: readonly string[]): string {
  const quoted = values.map((v) => JSON.stringify(v));
  if (quoted.length <= 1) return quoted.join("");
  return `${quoted.slice(0, -1).join(", ")} or ${quoted[quoted.length - 1]}`;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return quoteName(JSON.stringify(value).slice(1, -1));
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return `a ${typeof value}`;
}

/** Levenshtein distance between `a` and `b`, ignoring case. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      const cost = a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1;
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return row[b.length];
}

/** The known name closest to `key`, if it is plausibly a typo of it. */
export function closestName(key: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of known) {
    // The distance is at least the difference in length: skip what can't be close (a 900,000-character key).
    if (Math.abs(key.length - candidate.length) > Math.max(2, Math.floor(candidate.length / 3))) continue;
    const d = editDistance(key, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(best.length / 3)) ? best : null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

class IssueCollector {
  readonly issues: SpecIssue[] = [];

  add(path: Path, code: DiagnosticCode, message: string, suggestion?: SpecIssue["suggestion"]): void {
    this.issues.push({ path: [...path], code, message, ...(suggestion ? { suggestion } : {}) });
  }

  unknownKeys(record: Record<string, unknown>, known: readonly string[], path: Path, what: string): void {
    for (const key of Object.keys(record)) {
      if (known.includes(key)) continue;
      const guess = closestName(key, known);
      const hint = guess ? `; did you mean "${guess}"?` : `; known ${what} keys: ${known.join(", ")}`;
      this.add(
        [...path, key],
        "unknown-key",
        `unknown key ${quoteName(key)}${hint}`,
        guess ? { kind: "name", value: guess } : undefined,
      );
    }
  }

  enumValue<T extends string>(value: unknown, allowed: readonly T[], path: Path, what: string): T | undefined {
    if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
    if (typeof value === "string") {
      const guess = closestName(value, allowed);
      this.add(
        path,
        "unknown-value",
        `unknown ${what} ${quoteName(value)}; expected ${listAlternatives(allowed)}`,
        guess ? { kind: "value", value: guess } : undefined,
      );
    } else {
      this.add(path, "invalid-type", `${what} must be ${listAlternatives(allowed)}, got ${describe(value)}`);
    }
    return undefined;
  }

  positiveInteger(value: unknown, path: Path, what: string): number | undefined {
    if (typeof value !== "number") {
      this.add(path, "invalid-type", `${what} must be a positive integer, got ${describe(value)}`);
      return undefined;
    }
    if (!Number.isInteger(value) || value <= 0) {
      // The nearest positive integer (NaN has none).
      const nearest = Number.isNaN(value)
        ? undefined
        : Math.max(1, Math.min(Number.MAX_SAFE_INTEGER, Math.round(value)));
      this.add(
        path,
        "invalid-number",
        `${what} must be a positive integer, got ${value}`,
        nearest === undefined ? undefined : { kind: "value", value: nearest },
      );
      return undefined;
    }
    return value;
  }

  finiteNumber(
    value: unknown,
    path: Path,
    what: string,
    min = -Infinity,
    max = Infinity,
    maxExclusive = false,
  ): number | undefined {
    if (typeof value !== "number" || !Number.isFinite(value)) {
      this.add(path, "invalid-type", `${what} must be a finite number, got ${describe(value)}`);
      return undefined;
    }
    if (value < min || value > max || (maxExclusive && value === max)) {
      const upper = maxExclusive ? `below ${max}` : `at most ${max}`;
      // Clamped into the range; an excluded upper bound has no nearest value.
      const nearest = value < min ? min : maxExclusive ? undefined : max;
      this.add(
        path,
        "invalid-number",
        `${what} must be at least ${min} and ${upper}, got ${value}`,
        nearest === undefined ? undefined : { kind: "value", value: nearest },
      );
      return undefined;
    }
    return value;
  }

  boolean(value: unknown, path: Path, what: string): boolean | undefined {
    if (typeof value === "boolean") return value;
    this.add(path, "invalid-type", `${what} must be true or false, got ${describe(value)}`);
    return undefined;
  }
}

function normalizeVariant(value: unknown, issues: IssueCollector): ShortcutVariant | undefined {
  const path: Path = ["shortcutVariant"];
  if (typeof value === "string" || !isRecord(value)) {
    if (typeof value !== "string" && !isRecord(value)) {
      issues.add(
        path,
        "invalid-type",
        `shortcutVariant must be a variant name or an object with "kind", got ${describe(value)}`,
      );
      return undefined;
    }
    const kind = issues.enumValue(value, SHORTCUT_VARIANT_KINDS, path, "shortcutVariant");
    return kind ? defaultShortcutVariant(kind) : undefined;
  }
  const kind = issues.enumValue(value.kind, SHORTCUT_VARIANT_KINDS, [...path, "kind"], "shortcutVariant kind");
  if (!kind) return undefined;
  const fallback = defaultShortcutVariant(kind);
  const read = (key: string, check: (v: unknown, p: Path) => number | undefined, dflt: number): number | undefined =>
    value[key] === undefined ? dflt : check(value[key], [...path, key]);
  switch (fallback.kind) {
    case "identity":
    case "conv1x1":
      issues.unknownKeys(value, ["kind"], path, "shortcutVariant");
      return fallback;
    case "constantScaling": {
      issues.unknownKeys(value, ["kind", "lambda", "residualScale"], path, "shortcutVariant");
      const lambda = read("lambda", (v, p) => issues.finiteNumber(v, p, "lambda"), fallback.lambda);
      // The paper pairs λ on the shortcut with 1−λ on the branch unless told otherwise.
      const residualScale = read(
        "residualScale",
        (v, p) => issues.finiteNumber(v, p, "residualScale"),
        1 - (lambda ?? 0.5),
      );
      return lambda === undefined || residualScale === undefined
        ? undefined
        : { kind: "constantScaling", lambda, residualScale };
    }
    case "exclusiveGating":
    case "shortcutOnlyGating": {
      issues.unknownKeys(value, ["kind", "gateBias"], path, "shortcutVariant");
      const gateBias = read("gateBias", (v, p) => issues.finiteNumber(v, p, "gateBias"), fallback.gateBias);
      return gateBias === undefined ? undefined : { kind: fallback.kind, gateBias };
    }
    case "dropout": {
      issues.unknownKeys(value, ["kind", "rate"], path, "shortcutVariant");
      const rate = read("rate", (v, p) => issues.finiteNumber(v, p, "rate", 0, 1, true), fallback.rate);
      return rate === undefined ? undefined : { kind: "dropout", rate };
    }
  }
}

function normalizeStages(value: unknown, issues: IssueCollector): StageSpec[] | undefined {
  if (!Array.isArray(value)) {
    issues.add(
      ["stages"],
      "invalid-type",
      `stages must be an array of stage({ channels, blocks, stride }), got ${describe(value)}`,
    );
    return undefined;
  }
  if (value.length === 0) {
    issues.add(
      ["stages"],
      "empty-stages",
      "stages is empty; give at least one stage, e.g. stages: [stage({ channels: 64, blocks: 2 })]",
    );
    return undefined;
  }
  const stages: StageSpec[] = [];
  let ok = true;
  value.forEach((raw: unknown, index) => {
    const path: Path = ["stages", index];
    if (!isRecord(raw)) {
      issues.add(
        path,
        "invalid-type",
        `stage ${index} must be an object like { channels: 64, blocks: 2 }, got ${describe(raw)}`,
      );
      ok = false;
      return;
    }
    issues.unknownKeys(raw, STAGE_KEYS, path, "stage");
    if (raw.channels === undefined) issues.add(path, "missing-key", `stage ${index} needs "channels"`);
    if (raw.blocks === undefined) issues.add(path, "missing-key", `stage ${index} needs "blocks"`);
    const channels =
      raw.channels === undefined ? undefined : issues.positiveInteger(raw.channels, [...path, "channels"], "channels");
    const blocks =
      raw.blocks === undefined ? undefined : issues.positiveInteger(raw.blocks, [...path, "blocks"], "blocks");
    // Default stride: 1 for the first stage, 2 (halve the feature map) for later ones, as in every ResNet of the paper.
    const stride =
      raw.stride === undefined
        ? index === 0
          ? 1
          : 2
        : issues.positiveInteger(raw.stride, [...path, "stride"], "stride");
    if (channels === undefined || blocks === undefined || stride === undefined) ok = false;
    else stages.push({ channels, blocks, stride });
  });
  return ok ? stages : undefined;
}

function normalizeInput(value: unknown, issues: IssueCollector): Shape3 | undefined {
  if (!Array.isArray(value) || value.length !== 3) {
    issues.add(
      ["input"],
      "invalid-type",
      `input must be [channels, height, width], e.g. [3, 224, 224], got ${describe(value)}`,
    );
    return undefined;
  }
  const names = ["channels", "height", "width"];
  const dims = value.map((v: unknown, i) => issues.positiveInteger(v, ["input", i], `input ${names[i]}`));
  if (dims.some((d) => d === undefined)) return undefined;
  return [dims[0]!, dims[1]!, dims[2]!];
}

/**
 * Validate loose options (anything a user or a parser produced) and fill in defaults.
 * Never throws; `spec` is null when there is at least one issue.
 */
export function normalizeSpec(options: unknown): { spec: ResNetSpec | null; issues: SpecIssue[] } {
  const issues = new IssueCollector();
  if (!isRecord(options)) {
    issues.add([], "invalid-type", `resnet() takes an options object like { stages: [...] }, got ${describe(options)}`);
    return { spec: null, issues: issues.issues };
  }
  issues.unknownKeys(options, OPTION_KEYS, [], "resnet");

  const optional = <T>(key: keyof ResNetOptions, dflt: T, read: (v: unknown) => T | undefined): T | undefined =>
    options[key] === undefined ? dflt : read(options[key]);

  const name = optional<string>("name", "ResNet", (v) => {
    if (typeof v === "string" && v.trim() !== "") return v;
    issues.add(["name"], "invalid-type", `name must be a non-empty string, got ${describe(v)}`);
    return undefined;
  });
  const input = optional<Shape3>("input", [3, 224, 224], (v) => normalizeInput(v, issues));
  const stem = optional<StemKind>("stem", "imagenet", (v) => issues.enumValue(v, STEM_KINDS, ["stem"], "stem"));
  const block = optional<BlockKind>("block", "basic", (v) => issues.enumValue(v, BLOCK_KINDS, ["block"], "block"));
  let stages: StageSpec[] | undefined;
  if (options.stages === undefined) {
    issues.add([], "missing-key", 'resnet() needs "stages", e.g. stages: [stage({ channels: 64, blocks: 2 })]');
  } else {
    stages = normalizeStages(options.stages, issues);
  }
  const shortcut = optional<ShortcutOption>("shortcut", "B", (v) =>
    issues.enumValue(v, SHORTCUT_OPTIONS, ["shortcut"], "shortcut"),
  );
  const shortcutVariant = optional<ShortcutVariant>("shortcutVariant", { kind: "identity" }, (v) =>
    normalizeVariant(v, issues),
  );
  const preActivation = optional("preActivation", false, (v) => issues.boolean(v, ["preActivation"], "preActivation"));
  const residual = optional("residual", true, (v) => issues.boolean(v, ["residual"], "residual"));
  const norm = optional<NormKind>("norm", "batchnorm", (v) => issues.enumValue(v, NORM_KINDS, ["norm"], "norm"));
  const groups = optional("groups", 1, (v) => issues.positiveInteger(v, ["groups"], "groups"));
  const widthPerGroup = optional("widthPerGroup", 64, (v) =>
    issues.positiveInteger(v, ["widthPerGroup"], "widthPerGroup"),
  );
  const classes = optional("classes", 1000, (v) => issues.positiveInteger(v, ["classes"], "classes"));
  const zeroInitResidual = optional("zeroInitResidual", false, (v) =>
    issues.boolean(v, ["zeroInitResidual"], "zeroInitResidual"),
  );

  if (issues.issues.length > 0) return { spec: null, issues: issues.issues };
  const spec: ResNetSpec = {
    name: name!,
    input: input!,
    stem: stem!,
    block: block!,
    stages: stages!,
    shortcut: shortcut!,
    shortcutVariant: shortcutVariant!,
    preActivation: preActivation!,
    residual: residual!,
    norm: norm!,
    groups: groups!,
    widthPerGroup: widthPerGroup!,
    classes: classes!,
    zeroInitResidual: zeroInitResidual!,
  };
  return { spec, issues: [] };
}

/** `stages.1.channels` style path for messages without a source range. */
export function formatIssuePath(path: readonly (string | number)[]): string {
  return path.reduce<string>(
    (text, part) => (typeof part === "number" ? `${text}[${part}]` : text ? `${text}.${part}` : part),
    "",
  );
}

/** Issues as diagnostics without source ranges (the message names the option path instead). */
export function issuesToDiagnostics(issues: readonly SpecIssue[]): Diagnostic[] {
  return issues.map((issue) => {
    const where = formatIssuePath(issue.path);
    return {
      severity: "error",
      code: issue.code,
      range: null,
      message: where ? `${where}: ${issue.message}` : issue.message,
    };
  });
}

/** Describe a residual network. Throws SpecError listing every invalid option. */
export function resnet(options: ResNetOptions): ResNetSpec {
  const { spec, issues } = normalizeSpec(options);
  if (!spec) throw new SpecError(issuesToDiagnostics(issues));
  return spec;
}

/** One stage: `blocks` residual blocks of `channels` base width; the first has `stride`. Validated by resnet(). */
export function stage(options: StageOptions): StageOptions {
  return options;
}

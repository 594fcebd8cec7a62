/**
 * Seeded fuzzing of the torch worker with fake Pythons (issue 21): each case is a shell script made of a random
 * opening (nothing, garbage, partial JSON, a long line with or without its newline, a hello with an old or a current
 * torch) and a random ending (exit with a code, sleep, exit leaving a background child on stdout, answer the wrong
 * request, ignore the cancel). Every case must fail or succeed within 10 s of its own timeout, with a message naming
 * the script, no process of its group alive and no temp folder left. Used by `npm run fuzz` and fuzz.test.ts.
 */
import { rmSync } from "node:fs";
import { seededRandom } from "./specFuzz";
import { helloLine, runScenario, scratchRoot, type Scenario } from "../fakePythons";
import { TORCH_PROTOCOL_VERSION } from "../../src/runtime/torchProtocol";

const LIMITS = { startMs: 2000, idleMs: 2000, cancelGraceMs: 1000, maxLineBytes: 4 * 2 ** 20 };
/** The bar: an answer within 10 s of the case's own timeout. */
const SLACK_MS = 10_000;

const OPENINGS: ((r: () => number) => string)[] = [
  () => "",
  () => 'echo "Python 3.11.2 (main) [GCC 12.2.0] on linux"',
  () => 'printf \'{"type":"hel\'',
  (r) => `head -c ${Math.floor(r() * 6 * 2 ** 20)} /dev/zero | tr '\\0' '{'`,
  (r) => `head -c ${Math.floor(r() * 2 * 2 ** 20)} /dev/zero | tr '\\0' 'y'\necho`,
  () => `echo '${helloLine("1.8.1")}'`,
  () => `echo '${helloLine()}'`,
  () => `echo '${helloLine().replace(`"protocol":${TORCH_PROTOCOL_VERSION}`, '"protocol":99')}'`,
  () => 'echo \'{"type":"push","id":1,"message":{"type":"ready"}}\'',
  () => "printf '\\377\\376\\000garbage\\n'",
];

const ENDINGS: ((r: () => number) => string)[] = [
  (r) => `exit ${Math.floor(r() * 3)}`,
  () => "sleep 30",
  () => "(sleep 30) &\necho 'RuntimeError: CUDA error' >&2\nexit 1",
  () => 'read line\necho \'{"type":"response","id":99,"ok":true,"kind":"calibrate","body":{}}\'\nsleep 30',
  () => "trap '' TERM INT\nwhile true; do sleep 0.2; done",
  () => "read line\nkill -9 $$",
];

export interface TorchFuzzReport {
  cases: number;
  /** Cases over 10 s past their timeout, without a message naming the script, or leaving a process or a folder. */
  failures: string[];
  slowestMillis: number;
  totalMillis: number;
}

export function torchFuzzCase(seed: number, index: number): Scenario {
  const r = seededRandom((seed * 7919 + index * 104729) >>> 0);
  const opening = OPENINGS[Math.floor(r() * OPENINGS.length)](r);
  const ending = ENDINGS[Math.floor(r() * ENDINGS.length)](r);
  const action = (["start", "job", "cancel"] as const)[Math.floor(r() * 3)];
  return {
    name: `case ${index}: ${JSON.stringify(opening.slice(0, 40))} then ${JSON.stringify(ending.slice(0, 40))}, ${action}`,
    script: `#!/bin/sh\n${opening}\n${ending}\n`,
    action,
    expect: /./,
    limits: LIMITS,
  };
}

export async function runTorchFuzz(
  seed: number,
  cases: number,
  onCase?: (done: number) => void,
): Promise<TorchFuzzReport> {
  const root = scratchRoot();
  const failures: string[] = [];
  let slowest = 0;
  const started = performance.now();
  try {
    for (let i = 0; i < cases; i++) {
      const scenario = torchFuzzCase(seed, i);
      const outcome = await runScenario(scenario, root);
      slowest = Math.max(slowest, outcome.millis);
      const bound = Math.max(LIMITS.startMs, LIMITS.idleMs) + LIMITS.cancelGraceMs + SLACK_MS;
      const problems: string[] = [];
      if (outcome.millis > bound) problems.push(`answered after ${Math.round(outcome.millis)} ms`);
      // Only a start may succeed (an opening with a current hello); a job on these scripts never can.
      if (outcome.message === null) {
        if (scenario.action !== "start") problems.push("succeeded");
      } else if (!/`[^`]*\/python` \(fake\)/.test(outcome.message))
        problems.push(`message names no script: ${outcome.message}`);
      else if (outcome.message.includes("\n")) problems.push("message of several lines");
      if (outcome.orphans) problems.push("left a process of its group");
      if (outcome.tempLeft) problems.push("left its temp folder");
      if (problems.length > 0) failures.push(`${scenario.name}: ${problems.join("; ")}`);
      onCase?.(i + 1);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return { cases, failures, slowestMillis: slowest, totalMillis: performance.now() - started };
}

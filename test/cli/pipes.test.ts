// A reader that closes the pipe early (`resnet-studio summary resnet1202 --json | head -c 100`) ends the command
// quietly with status 0, as `git log | head` does: no unhandled EPIPE, no stack trace.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { CLI_LAUNCHER, buildCliIfStale } from "./harness";

before(buildCliIfStale);

/** Runs the launcher, reads `keep` bytes of its stdout, then closes the pipe as `head -c keep` does. */
function runThenCloseReader(
  args: string[],
  keep: number,
): Promise<{ code: number | null; got: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_LAUNCHER, ...args]);
    let got = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      if (got.length >= keep) return;
      got += chunk.toString().slice(0, keep - got.length);
      if (got.length >= keep) child.stdout.destroy();
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, got, stderr }));
  });
}

for (const [args, keep] of [
  [["summary", "resnet1202", "--json"], 100],
  [["summary", "resnet1202"], 40],
  [["diff", "resnet110", "resnet1202", "--json"], 100],
  [["export", "resnet1202"], 100],
] as const) {
  test(`${args.join(" ")} | head -c ${keep}: status 0, no stack trace`, async () => {
    const r = await runThenCloseReader([...args], keep);
    assert.equal(r.got.length, keep, "the reader got its bytes");
    assert.doesNotMatch(r.stderr, /EPIPE|at .*\(|node:events/, r.stderr);
    assert.equal(r.code, 0, r.stderr);
  });
}

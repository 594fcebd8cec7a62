// A test skipped for a missing tool passes locally but fails the run under CI=true.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const script = `
import { test } from "node:test";
import { skipWithoutTool } from ${JSON.stringify(join(__dirname, "toolSkip.ts"))};
const skip = skipWithoutTool("frobnicator not found");
test("needs the frobnicator", { skip }, () => { throw new Error("must not run"); });
`;

function run(ci: string | undefined): number | null {
  const dir = mkdtempSync(join(tmpdir(), "tool-skip-"));
  const file = join(dir, "needs-tool.test.ts");
  writeFileSync(file, script);
  const env = { ...process.env };
  delete env.CI;
  // Run as a top-level test process, not as a child of this runner.
  delete env.NODE_TEST_CONTEXT;
  if (ci !== undefined) env.CI = ci;
  return spawnSync(process.execPath, ["--import", "tsx", "--test", file], { env, encoding: "utf8" }).status;
}

test("a missing tool skips locally and fails under CI=true", () => {
  assert.equal(run(undefined), 0);
  assert.equal(run("false"), 0);
  assert.equal(run("true"), 1);
});

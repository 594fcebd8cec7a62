// A seeded, bounded run of the checkpoint fuzzer (the long run: `npm run fuzz -- --checkpoint-cases 5000`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { CHECKPOINT_MUTATOR_NAMES, runCheckpointFuzz } from "./fuzz/checkpointFuzz";

test("300 damaged checkpoints and other files: each accepted or refused naming the file, no temp file left", async () => {
  const report = await runCheckpointFuzz(20261207, 300);
  assert.deepEqual(report.failures, []);
  assert.equal(report.crashes + report.unnamed + report.unreadableWrites + report.tempFilesLeft, 0);
  assert.equal(report.accepted + report.refused, 300);
  for (const name of CHECKPOINT_MUTATOR_NAMES) assert.ok(report.byMutator[name] > 0, `mutator ${name} unused`);
  // Mild damage (3e38, a tiny denormal, an unchanged header) still reads; most does not.
  assert.ok(report.accepted > 0, `${report.accepted} accepted`);
  assert.ok(report.refused > 200, `${report.refused} refused`);
});

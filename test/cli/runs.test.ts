import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { runCliFromSource } from "./harness";
import { readCheckpoint } from "../../model-core/src/runtime/checkpoint";
import { defaultLiveness, readRunRecord, runState } from "../../model-core/src/runs/listing";

const root = join(__dirname, "../..");
const spec = join(root, "examples/small.resnet.ts");
/** A run of a few seconds: the small example on 8×8 synthetic images, on the pure-JS backend. */
const tiny = [
  "train",
  spec,
  "--input",
  "1,8,8",
  "--dataset",
  "synthetic:count=40",
  "--batch",
  "8",
  "--backend",
  "cpu",
  "--no-estimate",
  "--json",
];

test("train records a run by default: run.json and a checkpoint that --resume accepts; runs list, show and compare", () => {
  const cwd = mkdtempSync(join(tmpdir(), "rs-cli-runs-"));
  try {
    const cli = (args: string[]) => runCliFromSource(args, { cwd });
    const first = cli([...tiny, "--epochs", "2"]);
    assert.equal(first.status, 0, first.stderr);
    const group = join(cwd, ".resnet-studio", "runs", "small");
    const [name] = readdirSync(group);
    assert.match(name, /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ$/);
    const dir = join(group, name);
    assert.deepEqual(readdirSync(dir).sort(), ["checkpoint.safetensors", "run.json"]);
    const summary = JSON.parse(first.stdout.trim().split("\n").pop()!) as { run: string; checkpoint: string };
    assert.equal(summary.run, dir);
    const record = readRunRecord(dir)!;
    assert.equal(record.status, "completed");
    assert.equal(record.history.length, 2);
    assert.equal(record.backend, "cpu");
    assert.equal(record.dataset.arg, "synthetic:count=40");
    assert.match(record.dataset.sha256, /^[0-9a-f]{64}$/);
    assert.equal(record.specFile, spec);
    assert.equal(record.checkpointEpoch, 2);
    assert.equal(record.config.epochs, 2);
    assert.ok(record.endedAt !== null && record.steps.length > 0);
    assert.equal(readCheckpoint(dir).header.specHash, record.architectureHash);

    // Resuming the run folder continues its record there.
    const resumed = cli([...tiny, "--epochs", "3", "--resume", dir]);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.equal(readdirSync(group).length, 1, "no new run folder");
    const after = readRunRecord(dir)!;
    assert.deepEqual(
      after.history.map((e) => e.epoch),
      [1, 2, 3],
    );
    assert.equal(after.startedAt, record.startedAt);
    assert.equal(readCheckpoint(dir).header.epoch, 3);

    // --no-save records nothing; --out names the run folder.
    const unsaved = cli([...tiny, "--epochs", "1", "--no-save"]);
    assert.equal(unsaved.status, 0, unsaved.stderr);
    assert.equal(readdirSync(group).length, 1);
    const out = join(cwd, "mine");
    const second = cli([...tiny, "--epochs", "1", "--out", out]);
    assert.equal(second.status, 0, second.stderr);
    assert.equal(readRunRecord(out)!.status, "completed");

    const list = cli(["runs", "list", "--json"]);
    assert.equal(list.status, 0, list.stderr);
    const listed = JSON.parse(list.stdout) as { runs: { dir: string; state: string; epochs: number }[] };
    assert.deepEqual(
      listed.runs.map((r) => [r.dir, r.state, r.epochs]),
      [[dir, "completed", 3]],
    );
    const text = cli(["runs", "list"]);
    assert.match(text.stdout, new RegExp(`^small\\n  ${name}  completed  best val \\d+\\.\\d\\d%  3/3 epochs  cpu`));

    const show = cli(["runs", "show", dir]);
    assert.equal(show.status, 0, show.stderr);
    assert.match(show.stdout, /: completed\n/);
    assert.equal(show.stdout.match(/^\s+[123]\s+\d+\.\d{4}/gm)?.length, 3, "one history line per epoch");

    const svg = join(cwd, "compare.svg");
    const compare = cli(["runs", "compare", dir, out, "--json", "--svg", svg]);
    assert.equal(compare.status, 0, compare.stderr);
    const rows = (JSON.parse(compare.stdout) as { runs: { dir: string; epochs: number; bestValAccuracy: number }[] })
      .runs;
    assert.deepEqual(
      rows.map((r) => [r.dir, r.epochs]),
      [
        [dir, 3],
        [out, 1],
      ],
    );
    assert.equal((readFileSync(svg, "utf8").match(/<g class="run"/g) ?? []).length, 2);
    const table = cli(["runs", "compare", dir, out]);
    assert.match(table.stdout, /^run\s+model\s+status.*\nsmall\/\S+\s+Small ResNet \(MNIST\)\s+completed\s+3\s/);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});

test("runs: a truncated run.json is named with its field, in list and show, without a stack", () => {
  const cwd = mkdtempSync(join(tmpdir(), "rs-cli-runs-"));
  try {
    const dir = join(cwd, ".resnet-studio", "runs", "net", "2026-12-07T22-40-05Z");
    const cli = (args: string[]) => runCliFromSource(args, { cwd });
    const ok = cli([...tiny, "--epochs", "1", "--out", dir]);
    assert.equal(ok.status, 0, ok.stderr);
    const text = readFileSync(join(dir, "run.json"), "utf8");
    writeFileSync(join(dir, "run.json"), text.slice(0, text.indexOf('"history"') + 30));
    const show = cli(["runs", "show", dir]);
    assert.equal(show.status, 1);
    assert.match(show.stderr, /run\.json: field "history" is cut short or not valid JSON/);
    assert.doesNotMatch(show.stderr, /\n\s+at /);
    const list = cli(["runs", "list"]);
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /2026-12-07T22-40-05Z {2}unreadable: .*run\.json: field "history" is cut short/);
    const compare = cli(["runs", "compare", dir]);
    assert.equal(compare.status, 1);
    assert.match(compare.stderr, /runs compare needs two or more run folders/);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});

test("a killed train leaves a run that reads as interrupted, with its last checkpoint loadable", async () => {
  const cwd = mkdtempSync(join(tmpdir(), "rs-cli-runs-"));
  const dir = join(cwd, "run");
  const main = join(root, "model-core/src/cli/main.ts");
  const args = [...tiny.map((a) => (a === "synthetic:count=40" ? "synthetic:count=400" : a)), "--epochs", "200"];
  const script = `require(${JSON.stringify(main)}).main(${JSON.stringify([...args, "--out", dir])})`;
  const child = spawn(process.execPath, ["--import", "tsx", "-e", script], { cwd: root, stdio: "ignore" });
  try {
    // Wait for the first checkpoint to be recorded, then kill the process without warning.
    await new Promise<void>((resolve, reject) => {
      const poll = setInterval(() => {
        try {
          if ((readRunRecord(dir)?.checkpointEpoch ?? 0) >= 1) {
            clearInterval(poll);
            resolve();
          }
        } catch {
          // Not written yet.
        }
      }, 100);
      child.on("exit", (code) => {
        clearInterval(poll);
        reject(new Error(`train exited (${code}) before its first checkpoint`));
      });
    });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    child.kill("SIGKILL");
    await exited;
    const record = readRunRecord(dir)!;
    assert.equal(record.status, "running", "the record was not ended");
    assert.equal(runState(record, defaultLiveness(hostname())), "interrupted");
    const checkpoint = readCheckpoint(dir);
    assert.ok(checkpoint.header.epoch >= 1);
    assert.equal(checkpoint.header.specHash, record.architectureHash);
    assert.ok(existsSync(join(dir, "checkpoint.safetensors")));
  } finally {
    child.kill("SIGKILL");
    rmSync(cwd, { recursive: true, force: true });
  }
});

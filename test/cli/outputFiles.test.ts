// Files the CLI writes (render --out, export --out with train_ddp.py, train --small's saved spec) are written to a temp
// file in the same folder and renamed over the target, never truncated in place; stale temp files of a killed writer
// are cleaned when a command writes into their folder; a write that fails names the file.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import {
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildCliIfStale, runCli } from "./harness";
import { removeStaleTempFiles } from "../../model-core/src/safeFiles";

before(buildCliIfStale);
const dir = mkdtempSync(join(tmpdir(), "rs-out-files-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `old` to `file` and hard-links it: an in-place write would change what the link reads too. */
function linked(file: string, old: string): string {
  writeFileSync(file, old);
  const link = `${file}.link`;
  linkSync(file, link);
  return link;
}

test("render --out and export --out replace the file by rename: the old inode is never truncated", async () => {
  const svg = join(dir, "net.svg");
  const model = join(dir, "model.py");
  const script = join(dir, "train_ddp.py");
  const links = [linked(svg, "old svg"), linked(model, "old model"), linked(script, "old script")];
  const runs = await Promise.all([
    runCli(["render", "resnet20", "--out", svg]),
    runCli(["export", "resnet20", "--out", model, "--with-train-script"]),
  ]);
  for (const r of runs) assert.equal(r.code, 0, r.stderr);
  assert.match(readFileSync(svg, "utf8"), /^<svg|^<\?xml/);
  assert.match(readFileSync(model, "utf8"), /^"""resnet20: /);
  assert.match(readFileSync(script, "utf8"), /^"""Distributed training of resnet20/);
  assert.deepEqual(
    links.map((l) => readFileSync(l, "utf8")),
    ["old svg", "old model", "old script"],
  );
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.startsWith(".rs-tmp-")),
    [],
  );
});

test("a write that fails names the file, exits 1 without a stack, and leaves no temp file", async () => {
  const missing = join(dir, "no-such-folder", "model.py");
  const r = await runCli(["export", "resnet20", "--out", missing]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `resnet-studio: error: ${missing}: cannot write: no such file or folder (ENOENT)\n`);
  // A folder where the file should go (EISDIR) is named too, and left alone.
  const folder = join(dir, "a-folder.py");
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder);
  const asFolder = await runCli(["export", "resnet20", "--out", folder]);
  assert.equal(asFolder.code, 1);
  assert.equal(asFolder.stderr, `resnet-studio: error: ${folder}: is a folder, not a file\n`);
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.startsWith(".rs-tmp-")),
    [],
  );
});

test("temp files older than an hour are removed even when their pid is alive again; fresh live ones are kept", async () => {
  const sub = mkdtempSync(join(dir, "stale-"));
  const old = `.rs-tmp-${process.pid}-abc-model.py.tmp`;
  const fresh = `.rs-tmp-${process.pid}-def-model.py.tmp`;
  const dead = `.rs-tmp-999999999-ghi-model.py.tmp`;
  for (const name of [old, fresh, dead]) writeFileSync(join(sub, name), "partial");
  const twoHoursAgo = new Date(Date.now() - 2 * 3600 * 1000);
  utimesSync(join(sub, old), twoHoursAgo, twoHoursAgo);
  // A command writing into the folder cleans it first.
  const r = await runCli(["export", "resnet20", "--out", join(sub, "model.py")]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(sub).sort(), [fresh, "model.py"].sort());
  assert.deepEqual(removeStaleTempFiles(sub, Date.now() + 2 * 3600 * 1000), [fresh]);
});

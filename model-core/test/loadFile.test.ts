// Spec paths that are not small regular files: refused from a stat before any read, with a message naming the file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync, ftruncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MAX_SPEC_FILE_BYTES, loadSpec } from "../src/load";

const dir = mkdtempSync(join(tmpdir(), "rs-load-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function onlyError(path: string): { code: string; message: string } {
  const loaded = loadSpec(path);
  assert.equal(loaded.graph, null, path);
  assert.equal(loaded.diagnostics.length, 1, path);
  return loaded.diagnostics[0];
}

test("a symlink to /dev/zero is a character device, refused without reading it", () => {
  const path = join(dir, "zero.resnet.ts");
  symlinkSync("/dev/zero", path);
  const d = onlyError(path);
  assert.equal(d.code, "file-unreadable");
  assert.equal(d.message, `${path} is a character device, not a regular file; give a .resnet.ts file or a preset name`);
});

test("a FIFO is named as one and never opened (opening it would wait for a writer)", (t) => {
  const path = join(dir, "pipe.resnet.ts");
  if (spawnSync("mkfifo", [path]).status !== 0) {
    t.skip("mkfifo is not available");
    return;
  }
  const d = onlyError(path);
  assert.equal(d.code, "file-unreadable");
  assert.match(d.message, new RegExp(`^${path.replace(/[.]/g, "\\.")} is a named pipe \\(FIFO\\), not a regular file`));
});

test("a file larger than the reader's budget is refused from its size (a sparse 3 GB file is not read)", () => {
  const path = join(dir, "huge.resnet.ts");
  const fd = openSync(path, "w");
  ftruncateSync(fd, 3 * 1024 ** 3);
  closeSync(fd);
  const d = onlyError(path);
  assert.equal(d.code, "budget-exceeded");
  assert.equal(
    d.message,
    `${path} is ${3 * 1024 ** 3} bytes; a spec file is at most ${MAX_SPEC_FILE_BYTES} bytes (1000000 characters)`,
  );
});

test("a file one byte over the byte limit is refused; the text of a file within it reaches the reader", () => {
  const over = join(dir, "over.resnet.ts");
  writeFileSync(over, Buffer.alloc(MAX_SPEC_FILE_BYTES + 1, 0x20));
  assert.equal(onlyError(over).code, "budget-exceeded");
  const fits = join(dir, "fits.resnet.ts");
  writeFileSync(fits, 'import { presets } from "resnet-studio";\nexport default presets.resnet18();\n');
  const loaded = loadSpec(fits);
  assert.deepEqual(loaded.diagnostics, []);
  assert.ok(loaded.graph);
  assert.equal(onlyError(dir).message, `${dir} is a directory; give a .resnet.ts file or a preset name`);
});

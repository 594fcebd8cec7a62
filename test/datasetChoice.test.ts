/** "Train on…": a picked folder's format told from its contents, the recent list, and the rows offered. */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  RECENT_DATASETS,
  datasetItems,
  describeDataset,
  detectDatasetFolder,
  recentDatasets,
  rememberDataset,
  type FolderEntry,
} from "../extension/src/pure/datasetChoice";

const file = (name: string): FolderEntry => ({ name, directory: false });
const dir = (name: string): FolderEntry => ({ name, directory: true });

test("a folder is IDX when it holds MNIST-format training images, ImageFolder when a class folder holds images", () => {
  for (const name of ["train-images-idx3-ubyte.gz", "train-images-idx3-ubyte", "train-images.idx3-ubyte"])
    assert.deepEqual(detectDatasetFolder("/d/fashion", [file(name), file("train-labels-idx1-ubyte.gz")], {}), {
      kind: "idx",
      arg: "idx:/d/fashion",
    });
  assert.deepEqual(
    detectDatasetFolder("/d/pets", [dir("cat"), dir("dog")], { cat: [file("a.PNG")], dog: [file("b.jpg")] }),
    { kind: "imagefolder", arg: "imagefolder:/d/pets" },
  );
  assert.deepEqual(
    detectDatasetFolder("/d/split", [dir("train"), dir("val")], {
      train: [dir("cat"), dir("dog")],
      "train/cat": [file("1.jpeg")],
      val: [dir("cat")],
    }),
    { kind: "imagefolder", arg: "imagefolder:/d/split" },
  );
  const neither = detectDatasetFolder("/d/docs", [file("notes.txt"), dir("misc"), dir(".git")], {
    misc: [file("a.txt")],
    ".git": [file("x.png")],
  });
  assert.equal(neither.kind, "unknown");
  assert.match(
    (neither as { reason: string }).reason,
    /^\/d\/docs holds neither MNIST-format IDX files .* nor class subfolders of PNG or JPEG images/,
  );
  // Test images alone are not a training set.
  assert.equal(detectDatasetFolder("/d/t", [file("t10k-images-idx3-ubyte.gz")], {}).kind, "unknown");
});

test("recent datasets: newest first, no repeats, a few kept; whatever global state held is checked", () => {
  let recent: string[] = [];
  for (const arg of ["idx:/a", "imagefolder:/b", "idx:/a", "mnist", "idx:/c", "idx:/d", "idx:/e"])
    recent = rememberDataset(recent, arg);
  assert.deepEqual(recent, ["idx:/e", "idx:/d", "idx:/c", "mnist", "idx:/a"]);
  assert.equal(recent.length, RECENT_DATASETS);
  assert.deepEqual(recentDatasets(["idx:/a", 3, "", null, "mnist"]), ["idx:/a", "mnist"]);
  assert.deepEqual(recentDatasets({ 0: "idx:/a" }), []);
  assert.deepEqual(recentDatasets(undefined), []);
});

test("the rows: embedded MNIST, a folder, then the recent datasets by name with the current one marked", () => {
  const items = datasetItems("idx:/usr/share/datasets/fashion-mnist", [
    "idx:/usr/share/datasets/fashion-mnist",
    "mnist",
    "imagefolder:/home/me/pets/",
  ]);
  assert.deepEqual(
    items.map((i) => i.pick),
    [
      { kind: "dataset", arg: "mnist" },
      { kind: "folder" },
      { kind: "dataset", arg: "idx:/usr/share/datasets/fashion-mnist" },
      { kind: "dataset", arg: "imagefolder:/home/me/pets/" },
    ],
  );
  assert.equal(items[2].label, "$(history) fashion-mnist (IDX)");
  assert.match(items[2].description, /^\/usr\/share\/datasets\/fashion-mnist · current$/);
  assert.equal(items[3].label, "$(history) pets (ImageFolder)");
  assert.doesNotMatch(items[0].description, /current/);
  assert.deepEqual(describeDataset("synthetic:count=9"), { label: "synthetic:count=9", description: "" });
});

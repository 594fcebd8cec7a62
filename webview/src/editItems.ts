/**
 * What the diagram's edit menu offers for a node: the stage's values (when the node is in `layerN`) and the
 * network's options. Pure (no DOM), so it tests under node; editMenu.ts draws it.
 */
import type { ResNetSpec } from "resnet-studio/spec/types";
import type { SpecEdit } from "resnet-studio/edit/specEdit";

export interface EditItem {
  label: string;
  edit: SpecEdit;
  /** Ask the host for the value (an input box starting at `edit.value`). */
  ask?: boolean;
  /** Single-key shortcut shown beside the label while the menu is open. */
  key?: string;
}

export interface EditMenuSection {
  title: string;
  items: EditItem[];
}

/** 0-based stage index of a diagram id (`layer2`, `layer2.1`, `layer2.1.conv1` → 1), or null outside the stages. */
export function stageIndexOf(nodeId: string | null): number | null {
  const m = nodeId ? /^layer(\d+)(?:\.|$)/.exec(nodeId) : null;
  return m ? Number(m[1]) - 1 : null;
}

const onOff = (on: boolean): string => (on ? "on" : "off");

export function editMenuSections(spec: ResNetSpec, nodeId: string | null): EditMenuSection[] {
  const sections: EditMenuSection[] = [];
  const index = stageIndexOf(nodeId);
  const stage = index === null ? undefined : spec.stages[index];
  if (index !== null && stage) {
    const id = `layer${index + 1}`;
    const items: EditItem[] = [
      {
        label: `Blocks ${stage.blocks} → ${stage.blocks + 1}`,
        edit: { kind: "stage", stage: index, key: "blocks", value: stage.blocks + 1 },
        key: "]",
      },
      {
        label: `Blocks ${stage.blocks} → ${stage.blocks - 1}`,
        edit: { kind: "stage", stage: index, key: "blocks", value: stage.blocks - 1 },
        key: "[",
      },
      {
        label: `Channels ${stage.channels} → ${stage.channels * 2}`,
        edit: { kind: "stage", stage: index, key: "channels", value: stage.channels * 2 },
      },
    ];
    if (stage.channels % 2 === 0)
      items.push({
        label: `Channels ${stage.channels} → ${stage.channels / 2}`,
        edit: { kind: "stage", stage: index, key: "channels", value: stage.channels / 2 },
      });
    items.push(
      { label: "Channels…", edit: { kind: "stage", stage: index, key: "channels", value: stage.channels }, ask: true },
      {
        label: `Stride ${stage.stride} → ${stage.stride === 1 ? 2 : 1}`,
        edit: { kind: "stage", stage: index, key: "stride", value: stage.stride === 1 ? 2 : 1 },
      },
    );
    sections.push({ title: `Stage ${id}`, items });
  }
  const other = <T>(values: readonly T[], current: T): T[] => values.filter((v) => v !== current);
  sections.push({
    title: `Network ${spec.name}`,
    items: [
      {
        label: `Block kind ${spec.block} → ${spec.block === "basic" ? "bottleneck" : "basic"}`,
        edit: { kind: "network", key: "block", value: spec.block === "basic" ? "bottleneck" : "basic" },
      },
      ...other(["A", "B", "C"] as const, spec.shortcut).map((s): EditItem => ({
        label: `Shortcut ${spec.shortcut} → ${s}`,
        edit: { kind: "network", key: "shortcut", value: s },
      })),
      {
        label: `Pre-activation ${onOff(spec.preActivation)} → ${onOff(!spec.preActivation)}`,
        edit: { kind: "network", key: "preActivation", value: !spec.preActivation },
      },
      {
        label: `Residual ${onOff(spec.residual)} → ${onOff(!spec.residual)}`,
        edit: { kind: "network", key: "residual", value: !spec.residual },
      },
      {
        label: `Norm ${spec.norm} → ${spec.norm === "none" ? "batchnorm" : "none"}`,
        edit: { kind: "network", key: "norm", value: spec.norm === "none" ? "batchnorm" : "none" },
      },
      { label: `Groups (${spec.groups})…`, edit: { kind: "network", key: "groups", value: spec.groups }, ask: true },
      {
        label: `Width per group (${spec.widthPerGroup})…`,
        edit: { kind: "network", key: "widthPerGroup", value: spec.widthPerGroup },
        ask: true,
      },
    ],
  });
  return sections;
}

/** Box geometry shared by the layout and the renderer (kept apart from layout.ts so the renderer never pulls in elkjs). */

/** Box sizes in px. Boxes leave room for two overlay lines under the label. Add boxes are as wide as layers so
 *  the lane stays straight through them; only the circle inside is drawn. */
export const NODE_SIZE = {
  layer: { width: 184, height: 60 },
  add: { width: 184, height: 42 },
  block: { width: 204, height: 78 },
  stage: { width: 224, height: 78 },
} as const;

/** Circle of the Add glyph, relative to its box. */
export const ADD_GLYPH = { cy: 14, r: 12 } as const;

/** A frame's title starts this far right of the lane through it, so the lane never crosses the text. */
export const TITLE_OFFSET = 12;

/** Header height of an expanded frame; a block's is taller to hold the gradient split at its input (the fork). */
export const FRAME_TOP = { stage: 40, block: 50 } as const;

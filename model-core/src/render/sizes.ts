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

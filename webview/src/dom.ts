/** Small DOM helpers shared by the page's views. */

/** An element with attributes and children. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

/** A custom element (a vscode-elements component) with attributes and text. */
export function custom(tag: string, attrs: Record<string, string> = {}, text?: string): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}

/** A `<vscode-checkbox>`: its `checked` property. */
export type CheckboxElement = HTMLElement & { checked: boolean };
/** A `<vscode-textfield>`: its `value` property. */
export type TextFieldElement = HTMLElement & { value: string };

/** A theme colour variable of the page, or `fallback` where the theme does not set it. Pass `css` to read several. */
export function themeColor(name: string, fallback: string, css = getComputedStyle(document.body)): string {
  return css.getPropertyValue(name).trim() || fallback;
}

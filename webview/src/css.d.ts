/** esbuild's text loader turns CSS imports into strings (scripts/build.mjs). */
declare module "*.css" {
  const text: string;
  export default text;
}

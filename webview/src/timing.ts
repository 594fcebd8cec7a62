/**
 * How long the page's expensive steps take: `timed` records [name, start, milliseconds] in `window.__marks`, which
 * the browser tests and bench/webview.bench.ts read. Keeps the last few hundred.
 */
const marks: [string, number, number][] = ((window as unknown as { __marks: [string, number, number][] }).__marks = []);

export function timed<T>(name: string, f: () => T): T {
  const t = performance.now();
  const r = f();
  marks.push([name, Math.round(t), Math.round(performance.now() - t)]);
  if (marks.length > 400) marks.splice(0, 200);
  return r;
}

/** How tests that need an external tool (Chromium, code-server, torch) skip without it. */
import { test } from "node:test";
import assert from "node:assert/strict";

/**
 * The `skip` option for tests needing a tool: `reason` (a string) when it is missing, else false. Under CI=true a
 * missing tool registers a failing test instead, so a CI run can't pass by skipping.
 */
export function skipWithoutTool(reason: string | false): string | false {
  if (reason !== false && process.env.CI === "true") {
    test(`required tool is present (CI=true): ${reason}`, () =>
      assert.fail(`${reason}; under CI=true a missing tool fails the suite`));
  }
  return reason;
}

/** The Python (with torch) that tests run: RESNET_STUDIO_PYTHON, else Debian's /usr/bin/python3. One home for the choice. */
export function testPython(): string {
  return process.env.RESNET_STUDIO_PYTHON || "/usr/bin/python3";
}

// Runs Shopify's Theme Check over a theme app extension, as `shopify app deploy` would, and exits
// non-zero on any offense (errors, warnings and suggestions alike).
// Usage: NODE_PATH=<folder holding @shopify/theme-check-node> node extensions/theme-check.cjs <extension dir>
"use strict";
const path = require("node:path");
const { check } = require("@shopify/theme-check-node");

const SEVERITY = ["error", "warning", "info"];

async function main() {
  const root = path.resolve(process.argv[2] || "extensions/basketry-theme");
  const offenses = await check(root, "theme-check:theme-app-extension");
  for (const offense of offenses) {
    const file = path.relative(process.cwd(), new URL(offense.uri).pathname);
    const where = `${file}:${offense.start.line + 1}:${offense.start.character + 1}`;
    console.log(`${where} ${SEVERITY[offense.severity] || offense.severity} ${offense.check}: ${offense.message}`);
  }
  console.log(`Theme Check (theme-app-extension) on ${path.relative(process.cwd(), root)}: ${offenses.length} offense(s)`);
  process.exitCode = offenses.length ? 1 : 0;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 2;
});

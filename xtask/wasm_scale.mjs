// Times the same rules-only pass as the native scale benchmark, compiled to
// WASM and run under node. Usage: node wasm_scale.mjs <pkg dir> <entries>...
// Prints one JSON line: {"sizes": [...], "seconds": [...]}.
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";

const [pkgDir, ...sizes] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const core = require(join(resolve(pkgDir), "reverie_core.js"));

// One untimed run first, as natively (it also pays for the engine's
// optimizing compile of the module), then the median of nine.
const RUNS = 9;
const seconds = [];
for (const n of sizes.map(Number)) {
  const bench = new core.SyntheticBench(n, 42);
  const times = [];
  let changes = bench.runPass();
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    changes = bench.runPass();
    times.push((performance.now() - started) / 1000);
  }
  bench.free();
  times.sort((a, b) => a - b);
  const secs = times[Math.floor(RUNS / 2)];
  seconds.push(secs);
  console.error(`wasm n=${n}  pass ${secs.toFixed(3)} s (median of ${RUNS}, slowest ${times[RUNS - 1].toFixed(3)} s)  ${Math.round(n / secs)} entries/s  changes ${changes}`);
}
console.log(JSON.stringify({ sizes: sizes.map(Number), seconds }));

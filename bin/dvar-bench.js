#!/usr/bin/env node
// Benchmarks (`npm run bench -- step`): runs the compiled TypeScript (`npm run build` first).
import { main } from "../dist/src/bench/main.js";

process.exitCode = await main(process.argv.slice(2));

// Renders the figures the suite wrote (tests/support/report.c) as README's table.
//
//   node render.mjs [LABEL=]FILE.jsonl ...                 prints the table
//   node render.mjs --readme README.md [LABEL=]FILE ...    also rewrites the table
//                                                          between the reliability markers
//
// Each FILE is one run (the plain build, the sanitized one, fuzzing); a missing FILE
// is skipped. A row seen in several files shows each file's result after its LABEL.
import { readFileSync, writeFileSync, existsSync } from "node:fs";

const args = process.argv.slice(2);
let readme = null;
if (args[0] === "--readme") {
  readme = args[1];
  args.splice(0, 2);
}
if (args.length === 0) {
  console.error("usage: render.mjs [--readme README.md] FILE.jsonl...");
  process.exit(2);
}

const rows = new Map(); // what + how -> { what, how, results: [] }
for (const arg of args) {
  const eq = arg.indexOf("=");
  const label = eq > 0 ? arg.slice(0, eq) : arg;
  const file = eq > 0 ? arg.slice(eq + 1) : arg;
  if (!existsSync(file)) continue;
  for (const [i, line] of readFileSync(file, "utf8").split("\n").entries()) {
    if (line.trim() === "") continue;
    let r;
    try {
      r = JSON.parse(line);
    } catch (e) {
      console.error(`${file}:${i + 1}: not JSON: ${e.message}`);
      process.exit(1);
    }
    for (const k of ["what", "how", "result"]) {
      if (typeof r[k] !== "string" || r[k] === "") {
        console.error(`${file}:${i + 1}: missing "${k}"`);
        process.exit(1);
      }
    }
    const key = r.what + "\u0000" + r.how;
    if (!rows.has(key)) rows.set(key, { what: r.what, how: r.how, results: [] });
    rows.get(key).results.push({ label, result: r.result });
  }
}

// Sorted by what was tried, so a README rewritten from a new run diffs only in figures.
const sorted = [...rows.values()].sort((a, b) => a.what.localeCompare(b.what) || a.how.localeCompare(b.how));
const cell = (s) => s.replaceAll("|", "\\|").replaceAll("\n", " ");
const lines = ["| what | how | result |", "| --- | --- | --- |"];
for (const r of sorted)
  lines.push(`| ${cell(r.what)} | ${cell(r.how)} | ${cell(
    r.results.length === 1 ? r.results[0].result
      : r.results.map((x) => `${x.label}: ${x.result}`).join("; "))} |`);
const table = rows.size ? lines.join("\n") : "(no figures were written in this run)";
console.log(table);

if (readme) {
  const begin = "<!-- reliability:begin -->", end = "<!-- reliability:end -->";
  const text = readFileSync(readme, "utf8");
  const a = text.indexOf(begin), b = text.indexOf(end);
  if (a < 0 || b < a) {
    console.error(`${readme}: no ${begin} ... ${end} markers`);
    process.exit(1);
  }
  writeFileSync(readme, text.slice(0, a + begin.length) + "\n" + table + "\n" + text.slice(b));
}

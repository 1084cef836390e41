// Renders the figures the suite wrote (tests/support/report.c) as README's table.
//
//   node render.mjs FILE.jsonl [FILE.jsonl ...]            prints the table
//   node render.mjs --readme README.md FILE.jsonl ...      also rewrites the table
//                                                          between the reliability markers
//
// Each FILE is one build's run (plain, sanitized); a row seen in several files shows
// each file's result, labelled with the build directory's name.
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { basename, dirname } from "node:path";

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
for (const file of args) {
  if (!existsSync(file)) continue;
  const label = basename(dirname(dirname(file))); // build dir name
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
    rows.get(key).results.push(args.length > 1 ? `${r.result} (${label})` : r.result);
  }
}

// Sorted by what was tried, so a README rewritten from a new run diffs only in figures.
const sorted = [...rows.values()].sort((a, b) => a.what.localeCompare(b.what) || a.how.localeCompare(b.how));
const cell = (s) => s.replaceAll("|", "\\|").replaceAll("\n", " ");
const lines = ["| what | how | result |", "| --- | --- | --- |"];
for (const r of sorted)
  lines.push(`| ${cell(r.what)} | ${cell(r.how)} | ${cell(r.results.join("; "))} |`);
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

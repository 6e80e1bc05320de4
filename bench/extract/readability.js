// The peer of bench/extract: Mozilla Readability on jsdom, every page given
// on the command line in this one Node process. Prints one JSON line per
// page ({file, title, byline, published, lang, site_name, text}) on stdout
// and, on stderr, "pages N seconds S" timing only the parse + extraction
// (not Node's start-up), so the bench compares like with like.
"use strict";
const fs = require("fs");
const { JSDOM, VirtualConsole } = require("jsdom");
const { Readability } = require("@mozilla/readability");

const quiet = new VirtualConsole(); // pages' CSS and script errors are not ours to print
const files = process.argv.slice(2);
const print = !process.env.BENCH_NO_OUTPUT;
let total = 0n;
for (const file of files) {
  const html = fs.readFileSync(file, "utf8");
  const t0 = process.hrtime.bigint();
  let out = { file };
  try {
    const dom = new JSDOM(html, { url: "http://localhost/", virtualConsole: quiet });
    const r = new Readability(dom.window.document).parse();
    if (r)
      out = { file, title: r.title, byline: r.byline, published: r.publishedTime, lang: r.lang,
              site_name: r.siteName, text: r.textContent };
    dom.window.close();
  } catch (e) {
    out.error = String(e);
  }
  total += process.hrtime.bigint() - t0;
  if (print)
    process.stdout.write(JSON.stringify(out) + "\n");
}
process.stderr.write(`pages ${files.length} seconds ${(Number(total) / 1e9).toFixed(3)}\n`);

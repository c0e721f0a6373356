// Checks that a command line of one of the programs (as written in a
// systemd unit's ExecStart or a container's command) uses only flags the
// built program has: each --flag must appear in `PROGRAM [SUBCOMMAND]
// --help`, and a flag that takes a value must be given one.
//
//   node check_flags.js BIN_DIR -- infratrail-server export --data-dir ...
//
// BIN_DIR holds infratrail-server, infratrail and infratrail-verifier.
// Exit 0 if every flag exists, 1 otherwise (each problem on stderr).
"use strict";

const { execFileSync } = require("child_process");
const path = require("path");

const PROGRAMS = new Set(["infratrail-server", "infratrail", "infratrail-verifier"]);
const helpCache = new Map();

// The flags `argv0 [sub] --help` lists, each with whether it takes a value.
function flagsOf(binDir, program, sub) {
  const key = `${program} ${sub ?? ""}`;
  if (helpCache.has(key)) return helpCache.get(key);
  const args = sub ? [sub, "--help"] : ["--help"];
  const text = execFileSync(path.join(binDir, program), args, { encoding: "utf8" });
  const flags = new Map();
  // CLI11: "  --name TEXT=default   help" (one space before the value's
  // type) or "  -h,--help   help" (two or more before the help text).
  for (const m of text.matchAll(/^\s+(?:-\w,)?(--[a-z0-9-]+)(?:,--[a-z0-9-]+)*( [A-Z]+\b)?/gm)) {
    flags.set(m[1], m[2] !== undefined);
  }
  // CLI11 lists its config-file option without a type, but it takes one.
  if (flags.has("--config")) flags.set("--config", true);
  const subs = new Set();
  const section = text.split(/^Subcommands:$/m)[1] ?? "";
  for (const m of section.matchAll(/^\s+([a-z][a-z0-9-]*)\s/gm)) subs.add(m[1]);
  const result = { flags, subs };
  helpCache.set(key, result);
  return result;
}

// Problems with `argv` (program first, by its base name), as strings.
function checkCommand(binDir, argv, where) {
  const program = path.basename(argv[0]);
  if (!PROGRAMS.has(program)) return [];
  const top = flagsOf(binDir, program, null);
  let rest = argv.slice(1);
  let sub = null;
  if (rest.length > 0 && !rest[0].startsWith("-")) {
    if (!top.subs.has(rest[0])) return [`${where}: ${program} has no subcommand "${rest[0]}"`];
    sub = rest[0];
    rest = rest.slice(1);
  }
  const { flags } = sub ? flagsOf(binDir, program, sub) : top;
  const problems = [];
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i];
    if (!word.startsWith("--")) {
      problems.push(`${where}: "${word}" is not a flag or a flag's value`);
      continue;
    }
    const [name, inline] = word.split(/=(.*)/s, 2);
    if (!flags.has(name)) {
      problems.push(`${where}: ${program}${sub ? ` ${sub}` : ""} has no flag ${name}`);
      continue;
    }
    if (flags.get(name) && inline === undefined) {
      if (i + 1 >= rest.length || rest[i + 1].startsWith("--")) problems.push(`${where}: ${name} needs a value`);
      else i++;
    }
  }
  return problems;
}

module.exports = { checkCommand, flagsOf };

if (require.main === module) {
  const sep = process.argv.indexOf("--");
  if (sep !== 3) {
    console.error("usage: node check_flags.js BIN_DIR -- PROGRAM [ARGS...]");
    process.exit(2);
  }
  const problems = checkCommand(process.argv[2], process.argv.slice(4), "command");
  for (const p of problems) console.error(p);
  process.exit(problems.length === 0 ? 0 : 1);
}

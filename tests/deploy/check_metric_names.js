// Checks that the PromQL of the alert rules and of the Grafana dashboard
// names only metrics the programs export, and that the dashboard is a
// well-formed Grafana dashboard: valid JSON, a row for each program, and
// each panel titled after the metric it shows.
//
//   node check_metric_names.js NAMES_FILE RULES_YAML DASHBOARD_JSON
//
// NAMES_FILE lists the exported names (check_metrics.sh scrapes them),
// histogram series (_bucket, _sum, _count) included. Metrics of other
// exporters the rules may use are listed in EXTERNAL below.
"use strict";

const fs = require("fs");
const YAML = require("yaml");

// node_exporter's filesystem gauges (InfratrailDiskFillingUp).
const EXTERNAL = new Set(["node_filesystem_avail_bytes", "node_filesystem_size_bytes"]);
const PROGRAMS = ["infratrail-server", "infratrail monitor", "infratrail witness"];

// The metric names in a PromQL expression: identifiers that are not
// functions, keywords, label names in by/on/without(...) or label
// matchers, durations or strings.
function metricNames(expr) {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const withoutMatchers = withoutStrings.replace(/\{[^}]*\}/g, "{}");
  const withoutGroupings = withoutMatchers.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
  const withoutRanges = withoutGroupings.replace(/\[[^\]]*\]/g, "[]");
  const keywords = new Set(["and", "or", "unless", "bool", "offset", "inf", "nan", "group_left", "group_right"]);
  const names = [];
  for (const m of withoutRanges.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?/g)) {
    if (m[2] || keywords.has(m[1].toLowerCase())) continue;
    names.push(m[1]);
  }
  return names;
}

function panelsOf(dashboard) {
  const out = [];
  for (const p of dashboard.panels ?? []) {
    out.push(p);
    for (const inner of p.panels ?? []) out.push(inner);
  }
  return out;
}

function main() {
  const [namesFile, rulesFile, dashboardFile] = process.argv.slice(2);
  const known = new Set(fs.readFileSync(namesFile, "utf8").split("\n").filter(Boolean));
  const problems = [];
  const check = (where, expr) => {
    const names = metricNames(expr);
    if (names.length === 0) problems.push(`${where}: no metric in "${expr}"`);
    for (const n of names) if (!known.has(n) && !EXTERNAL.has(n)) problems.push(`${where}: ${n} is not exported by any program`);
    return names;
  };

  const rules = YAML.parse(fs.readFileSync(rulesFile, "utf8"));
  let ruleCount = 0;
  for (const g of rules.groups ?? []) {
    for (const r of g.rules ?? []) {
      check(`prometheus-rules.yml: ${r.alert ?? r.record}`, String(r.expr));
      ruleCount++;
    }
  }

  let dashboard;
  try {
    dashboard = JSON.parse(fs.readFileSync(dashboardFile, "utf8"));
  } catch (e) {
    problems.push(`${dashboardFile}: not valid JSON: ${e.message}`);
    dashboard = {};
  }
  for (const key of ["title", "uid", "schemaVersion", "panels"]) {
    if (dashboard[key] === undefined) problems.push(`dashboard: no "${key}"`);
  }
  const panels = panelsOf(dashboard);
  const rows = panels.filter((p) => p.type === "row").map((p) => p.title);
  for (const program of PROGRAMS) if (!rows.includes(program)) problems.push(`dashboard: no row "${program}" (rows: ${rows.join(", ")})`);
  const ids = new Set();
  let targets = 0;
  for (const p of panels) {
    if (ids.has(p.id)) problems.push(`dashboard: panel id ${p.id} used twice`);
    ids.add(p.id);
    if (!p.gridPos) problems.push(`dashboard: panel "${p.title}" has no gridPos`);
    if (p.type === "row") continue;
    const where = `dashboard: panel "${p.title}"`;
    if (!p.targets?.length) problems.push(`${where}: no query`);
    const used = new Set();
    for (const t of p.targets ?? []) {
      for (const n of check(where, String(t.expr ?? ""))) used.add(n.replace(/_(bucket|sum|count)$/, ""));
      targets++;
    }
    if (![...used].some((n) => String(p.title).includes(n))) {
      problems.push(`${where}: the title names none of its metrics (${[...used].join(", ")})`);
    }
  }

  for (const p of problems) console.error(`FAIL: ${p}`);
  if (problems.length > 0) process.exit(1);
  console.log(`PASS: ${ruleCount} rules and ${targets} dashboard queries name only exported metrics`);
}

main();

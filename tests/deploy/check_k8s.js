// Validates deploy/k8s: renders the base and every overlay
// (kustomize_lite.js) and checks each object
//  - against its Kubernetes (or Prometheus Operator) schema from the npm
//    package kubernetes-models: types, enums, required fields; and, more
//    strictly than the schema, no field it does not define (a misspelt
//    field is an error, as `kubectl apply --validate=strict` would say);
//  - against the rest of the bundle: selectors select pod templates,
//    Service target ports and probe ports are declared container ports,
//    volume mounts name volumes, ConfigMaps and their keys exist, Secrets
//    are the documented ones, the ServiceMonitor's ports exist, every
//    Deployment has one replica and the Recreate strategy;
//  - the programs' command lines and TOML configuration use flags and keys
//    the built programs have (check_flags.js).
// With --self-test it also breaks the base in known ways and requires each
// break to be reported.
//
//   node check_k8s.js K8S_DIR BIN_DIR [--self-test]
"use strict";

const fs = require("fs");
const path = require("path");
const { render, containersOf, podSpecs } = require("./kustomize_lite.js");
const { checkCommand, flagsOf } = require("./check_flags.js");

// Secrets the operator creates (docs/deploy.md); never in the manifests.
const EXTERNAL_SECRETS = new Set(["infratrail-log-key", "infratrail-writer-tokens", "infratrail-witness-key"]);
// Keys of a monitor.toml [[log]] table (docs/monitor.md).
const MONITOR_LOG_KEYS = new Set(["url", "key", "entry_format", "witnesses", "witness_threshold", "witness_policy"]);

// The packages' schema validators are not in their "exports", so they are
// loaded by file path from the NODE_PATH npm_setup.sh installed into.
function packageFile(file) {
  for (const dir of (process.env.NODE_PATH ?? "").split(path.delimiter).filter(Boolean)) {
    const p = path.join(dir, file);
    if (fs.existsSync(p)) return p;
  }
  return null;
}

function schemaValidator(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);
  let file;
  if (group === "monitoring.coreos.com") {
    file = `@kubernetes-models/prometheus-operator/_schemas/MonitoringCoreosComV1${kind}.js`;
    if (version !== "v1") return null;
  } else {
    const g = group === "" ? "Core" : cap(group.split(".")[0]);
    file = `kubernetes-models/_schemas/IoK8sApi${g}${cap(version)}${kind}.js`;
  }
  const p = packageFile(file);
  return p ? require(p).validate : null;
}

// Runs `validate` on `data` seen through proxies that record which fields
// the schema looks at; a field it never looks at in an object whose keys
// it never enumerates (maps such as labels are enumerated) is unknown.
function validateStrict(data, validate) {
  const read = new Map();
  const enumerated = new Set();
  const objects = new Map();
  function wrap(value, where) {
    if (value === null || typeof value !== "object") return value;
    const isArray = Array.isArray(value);
    if (!isArray) {
      objects.set(where, value);
      if (!read.has(where)) read.set(where, new Set());
    }
    return new Proxy(value, {
      get(target, key) {
        if (typeof key !== "string") return target[key];
        if (!isArray) read.get(where).add(key);
        return wrap(target[key], isArray ? `${where}[${key}]` : `${where}.${key}`);
      },
      has(target, key) {
        if (!isArray) read.get(where).add(key);
        return key in target;
      },
      ownKeys(target) {
        enumerated.add(where);
        return Reflect.ownKeys(target);
      },
    });
  }
  const problems = [];
  if (!validate(wrap(data, ""))) {
    for (const e of validate.errors ?? []) {
      problems.push(`${e.instancePath.replace(/\//g, ".") || "."}: ${e.keyword} ${JSON.stringify(e.params)}`);
    }
  }
  for (const [where, obj] of objects) {
    if (enumerated.has(where)) continue;
    for (const key of Object.keys(obj)) if (!read.get(where).has(key)) problems.push(`${where}.${key}: unknown field`);
  }
  return problems;
}

function matches(selector, labels) {
  return Object.entries(selector ?? {}).every(([k, v]) => (labels ?? {})[k] === v);
}

function podTemplates(objects) {
  return objects
    .filter((o) => o.spec?.template?.spec)
    .map((o) => ({ owner: o, labels: o.spec.template.metadata?.labels ?? {}, spec: o.spec.template.spec }));
}

function tomlKeys(text) {
  // Top-level keys (before any [table]) and [[log]] keys; enough for the
  // flat files these programs read.
  const top = [];
  const tables = [];
  let table = null;
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (t === "" || t.startsWith("#")) continue;
    const header = /^\[\[?([A-Za-z0-9_.-]+)\]\]?$/.exec(t);
    if (header) {
      table = { name: header[1], keys: [] };
      tables.push(table);
      continue;
    }
    const kv = /^([A-Za-z0-9_-]+)\s*=/.exec(t);
    if (!kv) continue;
    (table ? table.keys : top).push(kv[1]);
  }
  return { top, tables };
}

function checkBundle(objects, binDir, where) {
  const problems = [];
  const say = (o, msg) => problems.push(`${where}: ${o.kind}/${o.metadata?.name}: ${msg}`);
  const byKind = (k) => objects.filter((o) => o.kind === k);
  const templates = podTemplates(objects);

  const names = new Set();
  for (const o of objects) {
    if (!o.apiVersion || !o.kind || !o.metadata?.name) {
      problems.push(`${where}: an object lacks apiVersion, kind or metadata.name`);
      continue;
    }
    const id = `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
    if (names.has(id)) say(o, "defined twice");
    names.add(id);
    const validate = schemaValidator(o.apiVersion, o.kind);
    if (!validate) {
      say(o, `no schema for ${o.apiVersion} ${o.kind}`);
      continue;
    }
    for (const p of validateStrict(o, validate)) say(o, p);
  }

  for (const o of objects.filter((x) => x.spec?.template)) {
    if (!matches(o.spec.selector?.matchLabels, o.spec.template.metadata?.labels)) {
      say(o, "spec.selector does not select its own pod template");
    }
    if (o.kind === "Deployment") {
      if (o.spec.replicas !== 1) say(o, "must run exactly one replica (its state volume is single-writer)");
      if (o.spec.strategy?.type !== "Recreate") say(o, "must use strategy Recreate (never two pods on one state)");
    }
    if (o.kind === "StatefulSet") {
      if (o.spec.replicas !== 1) say(o, "the log has one sequencer: replicas must be 1");
      const svc = byKind("Service").find((s) => s.metadata.name === o.spec.serviceName);
      if (!svc || svc.spec.clusterIP !== "None") say(o, `serviceName ${o.spec.serviceName} is not a headless Service`);
    }
    const spec = o.spec.template.spec;
    const volumeNames = new Set([
      ...(spec.volumes ?? []).map((v) => v.name),
      ...(o.spec.volumeClaimTemplates ?? []).map((v) => v.metadata?.name),
    ]);
    for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
      const ports = c.ports ?? [];
      const portOk = (p) => ports.some((cp) => cp.containerPort === p || (typeof p === "string" && cp.name === p));
      for (const kind of ["readinessProbe", "livenessProbe", "startupProbe"]) {
        const probe = c[kind];
        if (!probe) continue;
        const port = probe.grpc?.port ?? probe.httpGet?.port ?? probe.tcpSocket?.port;
        if (port !== undefined && !portOk(port)) say(o, `container ${c.name}: ${kind} port ${port} is not a declared containerPort`);
      }
      for (const m of c.volumeMounts ?? []) {
        if (!volumeNames.has(m.name)) say(o, `container ${c.name}: volumeMount ${m.name} names no volume`);
      }
      for (const p of checkCommand(binDir, c.command ?? [], `${where}: ${o.kind}/${o.metadata.name} container ${c.name}`)) {
        problems.push(p);
      }
      if (!c.resources?.limits?.memory || !c.resources?.requests?.cpu) say(o, `container ${c.name}: needs resources (requests.cpu, limits.memory)`);
      if (c.securityContext?.allowPrivilegeEscalation !== false) say(o, `container ${c.name}: allowPrivilegeEscalation must be false`);
    }
    if (spec.securityContext?.runAsNonRoot !== true) say(o, "pod must set securityContext.runAsNonRoot");
    for (const v of spec.volumes ?? []) {
      if (v.configMap) {
        const cm = byKind("ConfigMap").find((x) => x.metadata.name === v.configMap.name);
        if (!cm) say(o, `volume ${v.name}: ConfigMap ${v.configMap.name} is not in the bundle`);
        for (const item of v.configMap.items ?? []) {
          if (cm && !(item.key in (cm.data ?? {}))) say(o, `volume ${v.name}: ConfigMap ${v.configMap.name} has no key ${item.key}`);
        }
      }
      if (v.secret) {
        if (!EXTERNAL_SECRETS.has(v.secret.secretName)) say(o, `volume ${v.name}: Secret ${v.secret.secretName} is not one docs/deploy.md tells the operator to create`);
        // Keys are readable by owner and group (fsGroup) at most: 0440 is
        // 288 in decimal, and a YAML 1.2 reader takes "0440" as 440 (0670).
        const mode = v.secret.defaultMode;
        if (mode !== undefined && (mode < 0 || mode > 0o777 || (mode & 0o337) !== 0)) {
          say(o, `volume ${v.name}: defaultMode ${mode} (0${mode.toString(8)}) gives more than owner and group read (write 288 for 0440)`);
        }
      }
      if (v.persistentVolumeClaim && !byKind("PersistentVolumeClaim").some((x) => x.metadata.name === v.persistentVolumeClaim.claimName)) {
        say(o, `volume ${v.name}: PersistentVolumeClaim ${v.persistentVolumeClaim.claimName} is not in the bundle`);
      }
    }
  }

  for (const s of byKind("Service")) {
    const selected = templates.filter((t) => matches(s.spec.selector, t.labels));
    if (selected.length === 0) {
      say(s, "selects no pod template");
      continue;
    }
    for (const p of s.spec.ports ?? []) {
      const target = p.targetPort ?? p.port;
      const ok = selected.some((t) => t.spec.containers.some((c) => (c.ports ?? []).some((cp) => cp.containerPort === target || cp.name === target)));
      if (!ok) say(s, `port ${p.name}: targetPort ${target} is no containerPort of the pods it selects`);
    }
  }
  for (const pdb of byKind("PodDisruptionBudget")) {
    if (!templates.some((t) => matches(pdb.spec.selector?.matchLabels, t.labels))) say(pdb, "selects no pod template");
  }
  for (const sm of byKind("ServiceMonitor")) {
    const services = byKind("Service").filter((s) => matches(sm.spec.selector?.matchLabels, s.metadata.labels));
    if (services.length === 0) say(sm, "selects no Service");
    for (const e of sm.spec.endpoints ?? []) {
      if (!services.some((s) => (s.spec.ports ?? []).some((p) => p.name === e.port))) say(sm, `endpoint port ${e.port} is on no selected Service`);
    }
  }

  // The programs' configuration files: known flags and keys only.
  for (const cm of byKind("ConfigMap")) {
    for (const [key, text] of Object.entries(cm.data ?? {})) {
      if (!key.endsWith(".toml")) continue;
      const { top, tables } = tomlKeys(text);
      const program = key === "server.toml" ? ["infratrail-server", null] : key === "monitor.toml" ? ["infratrail-verifier", "monitor"] : null;
      if (!program) {
        say(cm, `${key}: no program reads this file`);
        continue;
      }
      const { flags } = flagsOf(binDir, ...program);
      for (const k of top) {
        if (!flags.has(`--${k.replace(/_/g, "-")}`)) say(cm, `${key}: ${k} is no flag of ${program.filter(Boolean).join(" ")}`);
      }
      for (const t of tables) {
        if (key !== "monitor.toml" || t.name !== "log") say(cm, `${key}: unexpected table [${t.name}]`);
        for (const k of t.keys) if (!MONITOR_LOG_KEYS.has(k)) say(cm, `${key}: [[${t.name}]] has no key ${k}`);
      }
    }
  }
  return problems;
}

function bundles(k8sDir) {
  const out = [["base", path.join(k8sDir, "base")]];
  const overlays = path.join(k8sDir, "overlays");
  for (const d of fs.existsSync(overlays) ? fs.readdirSync(overlays).sort() : []) out.push([`overlays/${d}`, path.join(overlays, d)]);
  return out;
}

// Known breaks of the base, each of which the checks must report.
const MUTATIONS = [
  ["a misspelt field", (o) => o.kind === "StatefulSet" && ((o.spec.template.spec.containers[0].readinessProbe.periodSecond = 5), true)],
  ["a port without containerPort", (o) => o.kind === "StatefulSet" && (delete o.spec.template.spec.containers[0].ports[1].containerPort, true)],
  ["a probe on an undeclared port", (o) => o.kind === "StatefulSet" && ((o.spec.template.spec.containers[0].readinessProbe.grpc.port = 7409), true)],
  ["a Service targetPort no container has", (o) => o.kind === "Service" && o.metadata.name === "infratrail-server" && ((o.spec.ports[1].targetPort = "tile"), true)],
  ["a wrong type", (o) => o.kind === "Deployment" && ((o.spec.replicas = "1"), true)],
  ["two replicas of the log", (o) => o.kind === "StatefulSet" && ((o.spec.replicas = 2), true)],
  ["a RollingUpdate monitor", (o) => o.kind === "Deployment" && ((o.spec.strategy = { type: "RollingUpdate" }), true)],
  ["a mount of no volume", (o) => o.kind === "StatefulSet" && ((o.spec.template.spec.containers[1].volumeMounts[1].name = "exports"), true)],
  ["a ConfigMap that does not exist", (o) => o.kind === "Deployment" && o.metadata.name === "infratrail-monitor" && ((o.spec.template.spec.volumes[1].configMap.name = "monitor"), true)],
  ["an unknown server flag in the config", (o) => o.kind === "ConfigMap" && o.metadata.name === "infratrail-server" && ((o.data["server.toml"] += "tile-cache = 5\n"), true)],
  ["an unknown flag in a command", (o) => o.kind === "StatefulSet" && (o.spec.template.spec.containers[1].command.push("--folow"), true)],
  ["a ServiceMonitor port no Service has", (o) => o.kind === "ServiceMonitor" && ((o.spec.endpoints[0].port = "metric"), true)],
  ["a PDB selecting nothing", (o) => o.kind === "PodDisruptionBudget" && ((o.spec.selector.matchLabels["app.kubernetes.io/name"] = "server"), true)],
  ["a Secret mode written in YAML 1.2 octal", (o) => o.kind === "StatefulSet" && ((o.spec.template.spec.volumes[1].secret.defaultMode = 440), true)],
];

function main() {
  const [k8sDir, binDir, flag] = process.argv.slice(2);
  if (!k8sDir || !binDir) {
    console.error("usage: node check_k8s.js K8S_DIR BIN_DIR [--self-test]");
    process.exit(2);
  }
  let problems = [];
  let count = 0;
  for (const [name, dir] of bundles(k8sDir)) {
    let objects;
    try {
      objects = render(dir);
    } catch (e) {
      problems.push(`${name}: ${e.message}`);
      continue;
    }
    count += objects.length;
    problems = problems.concat(checkBundle(objects, binDir, name));
    const kinds = new Set(objects.map((o) => o.kind));
    for (const k of ["StatefulSet", "Deployment", "Service", "PodDisruptionBudget", "ConfigMap", "PersistentVolumeClaim", "ServiceMonitor"]) {
      if (!kinds.has(k)) problems.push(`${name}: no ${k}`);
    }
  }
  if (flag === "--self-test") {
    for (const [what, mutate] of MUTATIONS) {
      const objects = render(path.join(k8sDir, "base"));
      if (!objects.some((o) => mutate(o))) {
        problems.push(`self-test: "${what}" found nothing to break`);
        continue;
      }
      const found = checkBundle(objects, binDir, "mutated base");
      if (found.length === 0) problems.push(`self-test: "${what}" was not reported`);
      else console.log(`self-test: ${what}: reported (${found[0]})`);
    }
  }
  for (const p of problems) console.error(`FAIL: ${p}`);
  if (problems.length > 0) process.exit(1);
  console.log(`PASS: ${count} objects in ${bundles(k8sDir).length} renderings`);
}

main();

// A renderer for the small subset of Kustomize that deploy/k8s uses:
// `resources` (files and directories with their own kustomization.yaml),
// `namespace`, `labels` (metadata only), `images` and `patches` given
// inline as JSON 6902 operations with a kind/name target. Anything else in
// a kustomization.yaml is refused, so the overlay cannot silently use a
// feature this renderer would ignore. kubectl (kustomize v5) renders the
// same objects; CI has no kubectl from Debian, hence this file.
"use strict";

const fs = require("fs");
const path = require("path");
const YAML = require("yaml");

const SUPPORTED = new Set(["apiVersion", "kind", "resources", "namespace", "labels", "images", "patches"]);
const CLUSTER_SCOPED = new Set([
  "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
  "PersistentVolume", "StorageClass", "PriorityClass",
]);

function fail(message) {
  throw new Error(`kustomize_lite: ${message}`);
}

function readDocuments(file) {
  // YAML 1.1, as Kubernetes reads it (0440 is octal there, decimal in 1.2).
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"), { version: "1.1", prettyErrors: true });
  const out = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) fail(`${file}: ${doc.errors.map((e) => e.message).join("; ")}`);
    const obj = doc.toJS();
    if (obj === null || obj === undefined) continue;
    if (typeof obj !== "object" || Array.isArray(obj)) fail(`${file}: a document is not a mapping`);
    out.push(obj);
  }
  return out;
}

// Pod templates of a workload, or none.
function podSpecs(obj) {
  const specs = [];
  if (obj.spec?.template?.spec) specs.push(obj.spec.template.spec);
  if (obj.spec?.jobTemplate?.spec?.template?.spec) specs.push(obj.spec.jobTemplate.spec.template.spec);
  return specs;
}

function containersOf(obj) {
  return podSpecs(obj).flatMap((s) => [...(s.initContainers ?? []), ...(s.containers ?? [])]);
}

// JSON Pointer (RFC 6901) tokens of `pointer`.
function pointerTokens(pointer) {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) fail(`patch path "${pointer}" does not start with /`);
  return pointer.slice(1).split("/").map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function parentOf(doc, pointer) {
  const tokens = pointerTokens(pointer);
  if (tokens.length === 0) fail("a patch cannot replace the whole object");
  let node = doc;
  for (const t of tokens.slice(0, -1)) {
    if (node === null || typeof node !== "object" || !(t in node)) fail(`patch path "${pointer}": "${t}" does not exist`);
    node = node[t];
  }
  return { node, key: tokens[tokens.length - 1] };
}

// Applies RFC 6902 add, remove, replace and test to `doc` in place.
function applyJson6902(doc, ops, where) {
  if (!Array.isArray(ops)) fail(`${where}: the patch is not a list of operations`);
  for (const op of ops) {
    const { node, key } = parentOf(doc, op.path);
    const isArray = Array.isArray(node);
    const index = isArray ? (key === "-" ? node.length : Number(key)) : undefined;
    if (isArray && (!Number.isInteger(index) || index < 0 || index > node.length)) {
      fail(`${where}: ${op.op} ${op.path}: index out of range`);
    }
    switch (op.op) {
      case "add":
        if (isArray) node.splice(index, 0, op.value);
        else node[key] = op.value;
        break;
      case "replace":
      case "remove":
      case "test":
        if (isArray ? index >= node.length : !(key in node)) fail(`${where}: ${op.op} ${op.path}: nothing there`);
        if (op.op === "replace") node[isArray ? index : key] = op.value;
        if (op.op === "remove") {
          if (isArray) node.splice(index, 1);
          else delete node[key];
        }
        if (op.op === "test" && JSON.stringify(node[isArray ? index : key]) !== JSON.stringify(op.value)) {
          fail(`${where}: test ${op.path} failed`);
        }
        break;
      default:
        fail(`${where}: operation "${op.op}" is not supported`);
    }
  }
}

function imageName(image) {
  const at = image.indexOf("@");
  const noDigest = at >= 0 ? image.slice(0, at) : image;
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

// The objects `dir`'s kustomization.yaml describes, transformed.
function render(dir) {
  const kfile = path.join(dir, "kustomization.yaml");
  if (!fs.existsSync(kfile)) fail(`${dir}: no kustomization.yaml`);
  const [k] = readDocuments(kfile);
  for (const key of Object.keys(k)) {
    if (!SUPPORTED.has(key)) fail(`${kfile}: "${key}" is not supported (supported: ${[...SUPPORTED].join(", ")})`);
  }
  const objects = [];
  for (const r of k.resources ?? []) {
    const p = path.resolve(dir, r);
    if (!fs.existsSync(p)) fail(`${kfile}: resource ${r} does not exist`);
    objects.push(...(fs.statSync(p).isDirectory() ? render(p) : readDocuments(p)));
  }
  for (const [i, patch] of (k.patches ?? []).entries()) {
    const where = `${kfile}: patches[${i}]`;
    for (const key of Object.keys(patch)) {
      if (key !== "target" && key !== "patch") fail(`${where}: "${key}" is not supported`);
    }
    const { kind, name } = patch.target ?? {};
    if (!kind || !name) fail(`${where}: target needs kind and name`);
    const matched = objects.filter((o) => o.kind === kind && o.metadata?.name === name);
    if (matched.length === 0) fail(`${where}: no ${kind} ${name} to patch`);
    // Trimmed as kustomize does (a literal block ending the patch loses its
    // final newline).
    const ops = YAML.parse(String(patch.patch).trim(), { version: "1.1" });
    for (const o of matched) applyJson6902(o, ops, where);
  }
  if (k.namespace) {
    for (const o of objects) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
  }
  for (const [i, l] of (k.labels ?? []).entries()) {
    for (const key of Object.keys(l)) {
      if (key !== "pairs") fail(`${kfile}: labels[${i}].${key} is not supported (labels go on metadata only)`);
    }
    for (const o of objects) o.metadata.labels = { ...(o.metadata.labels ?? {}), ...l.pairs };
  }
  for (const [i, img] of (k.images ?? []).entries()) {
    let used = false;
    for (const c of objects.flatMap(containersOf)) {
      if (imageName(c.image) !== img.name) continue;
      used = true;
      if (img.digest) c.image = `${img.newName ?? img.name}@${img.digest}`;
      else c.image = `${img.newName ?? img.name}${img.newTag ? `:${img.newTag}` : ""}`;
    }
    if (!used) fail(`${kfile}: images[${i}]: no container uses image ${img.name}`);
  }
  return objects;
}

module.exports = { render, containersOf, podSpecs, applyJson6902 };

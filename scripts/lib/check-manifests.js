#!/usr/bin/env node
// Checks rendered Kubernetes manifests of the metering chart against the deployment rules.
// Input (stdin): the manifests as JSON objects, one after another (what `kubectl annotate --local -o json` prints
// for a multi-document YAML file; kubectl does the YAML parsing, so no YAML library is needed here).
// Prints every violation and exits 1 if there is any; prints a one-line summary and exits 0 otherwise.
"use strict";

const fs = require("fs");

/** Splits concatenated JSON values ({...}{...} with whitespace) into parsed objects. */
function parseConcatenated(text) {
  const objects = [];
  let depth = 0, start = -1, inString = false, escaped = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === "\\") escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === "{") { if (depth++ === 0) start = i; }
    else if (c === "}") { if (--depth === 0) objects.push(JSON.parse(text.slice(start, i + 1))); }
  }
  if (depth !== 0) throw new Error("unbalanced JSON input");
  // kubectl wraps several objects of one file in a List when asked for one; flatten either shape.
  return objects.flatMap(o => (o.kind === "List" ? o.items : [o]));
}

const manifests = parseConcatenated(fs.readFileSync(0, "utf8"));
const problems = [];
const fail = (where, what) => problems.push(`${where}: ${what}`);
const name = m => `${m.kind}/${m.metadata && m.metadata.name}`;

// Credentials: env vars whose name says so must come from a Secret, never from a literal value or a ConfigMap.
const credential = /(PASSWORD|SECRET|TOKEN|_KEY$|^METERING_PG$|CONNECTION|^METERING_REDIS$|SASL_USERNAME)/i;
// Literal credentials inside any value (connection strings with a password, PEM keys).
const inlineSecret = /(password\s*=|pwd\s*=|-----BEGIN [A-Z ]*PRIVATE KEY-----)/i;

const workloadKinds = new Set(["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"]);
const podSpecOf = m => (m.kind === "CronJob" ? m.spec.jobTemplate.spec.template.spec : m.spec.template.spec);
const component = m => (m.spec && m.spec.template && m.spec.template.metadata.labels["app.kubernetes.io/component"]) || "";

const workloads = manifests.filter(m => workloadKinds.has(m.kind));
if (workloads.length === 0) fail("manifests", "no workload rendered at all");

for (const m of manifests) {
  if (m.kind === "Secret") fail(name(m), "the chart must not render Secrets: reference existing ones (secrets.*.existingSecret)");
  if (m.kind === "ConfigMap") {
    for (const [key, value] of Object.entries(m.data || {})) {
      if (credential.test(key)) fail(`${name(m)} data.${key}`, "credential-like key in a ConfigMap");
      if (inlineSecret.test(String(value))) fail(`${name(m)} data.${key}`, "value contains an inline credential");
    }
  }
}

for (const m of workloads) {
  const pod = podSpecOf(m);
  const where = name(m);
  const podSc = pod.securityContext || {};
  if (pod.enableServiceLinks !== false) fail(where, "enableServiceLinks must be false (service env vars would shadow METERING_* options)");
  if (pod.automountServiceAccountToken !== false) fail(where, "automountServiceAccountToken must be false (the engine never calls the API server)");
  const tmpVolumes = new Set((pod.volumes || []).filter(v => v.emptyDir).map(v => v.name));
  const containers = [...(pod.initContainers || []), ...(pod.containers || [])];
  if (containers.length === 0) fail(where, "no containers");
  for (const c of containers) {
    const at = `${where} container ${c.name}`;
    const sc = c.securityContext || {};
    const limits = (c.resources && c.resources.limits) || {};
    const requests = (c.resources && c.resources.requests) || {};
    if (!limits.cpu || !limits.memory) fail(at, "resources.limits.cpu and .memory are required");
    if (!requests.cpu || !requests.memory) fail(at, "resources.requests.cpu and .memory are required");
    if ((sc.runAsNonRoot ?? podSc.runAsNonRoot) !== true) fail(at, "runAsNonRoot must be true");
    if (!((sc.runAsUser ?? podSc.runAsUser) > 0)) fail(at, "runAsUser must be a non-zero uid (runAsNonRoot cannot verify a named user)");
    if (sc.readOnlyRootFilesystem !== true) fail(at, "readOnlyRootFilesystem must be true");
    if (sc.allowPrivilegeEscalation !== false) fail(at, "allowPrivilegeEscalation must be false");
    if (sc.privileged === true) fail(at, "must not be privileged");
    if (!(sc.capabilities && (sc.capabilities.drop || []).includes("ALL"))) fail(at, "capabilities.drop must include ALL");
    if (sc.capabilities && (sc.capabilities.add || []).length > 0) fail(at, "must not add capabilities");
    const seccomp = (sc.seccompProfile || podSc.seccompProfile || {}).type;
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") fail(at, "seccompProfile must be RuntimeDefault (or Localhost)");
    const tmp = (c.volumeMounts || []).find(v => v.mountPath === "/tmp");
    if (!tmp || !tmpVolumes.has(tmp.name)) fail(at, "/tmp must be a writable emptyDir (the root filesystem is read-only)");
    for (const e of c.env || []) {
      if (!credential.test(e.name)) {
        if ("value" in e && inlineSecret.test(String(e.value))) fail(`${at} env ${e.name}`, "value contains an inline credential");
        continue;
      }
      if ("value" in e) fail(`${at} env ${e.name}`, "credential given as a literal value; use valueFrom.secretKeyRef");
      else if (!(e.valueFrom && e.valueFrom.secretKeyRef && e.valueFrom.secretKeyRef.name && e.valueFrom.secretKeyRef.key)) {
        fail(`${at} env ${e.name}`, "credential must come from valueFrom.secretKeyRef with a Secret name and key");
      }
    }
  }
}

// The API: liveness on /healthz and readiness on /readyz, on a port the container declares.
const apis = workloads.filter(m => m.kind === "Deployment" && component(m) === "api");
for (const m of apis) {
  for (const c of podSpecOf(m).containers) {
    const ports = new Set((c.ports || []).flatMap(p => [p.name, p.containerPort]));
    for (const [probe, path] of [["livenessProbe", "/healthz"], ["readinessProbe", "/readyz"]]) {
      const get = c[probe] && c[probe].httpGet;
      if (!get) fail(`${name(m)} container ${c.name}`, `${probe} (httpGet ${path}) is required`);
      else if (get.path !== path) fail(`${name(m)} container ${c.name}`, `${probe} must probe ${path}, not ${get.path}`);
      else if (!ports.has(get.port)) fail(`${name(m)} container ${c.name}`, `${probe} port ${get.port} is not a declared container port`);
    }
    if ((c.args || [])[0] !== "serve") fail(`${name(m)} container ${c.name}`, "the API runs `metering serve`");
  }
}

// Env names the engine no longer reads (a typo or a stale option is silently ignored by the program).
const stale = new Set(["METERING_CLICKHOUSE", "METERING_CLICKHOUSE_CONNECTION"]);
const envOf = c => Object.fromEntries((c.env || []).map(e => [e.name, e]));
for (const m of workloads) {
  for (const c of podSpecOf(m).containers) {
    for (const e of c.env || []) if (stale.has(e.name)) fail(`${name(m)} container ${c.name} env ${e.name}`, "not an option of metering (ClickHouse is METERING_CLICKHOUSE_URL, _USER, _PASSWORD, _DATABASE)");
  }
}

// `metering serve` refuses to start without --jwt-issuer, --jwt-audience and a key (METERING_JWT_KEY from a Secret).
for (const m of apis) {
  for (const c of podSpecOf(m).containers) {
    const env = envOf(c);
    for (const v of ["METERING_JWT_ISSUER", "METERING_JWT_AUDIENCE"]) {
      if (!env[v] || !String(env[v].value || "").trim()) fail(`${name(m)} container ${c.name}`, `${v} must be set (serve requires it)`);
    }
    if (!env.METERING_JWT_KEY && !env.METERING_JWT_KEY_FILE) fail(`${name(m)} container ${c.name}`, "METERING_JWT_KEY (from a Secret) or METERING_JWT_KEY_FILE is required");
  }
}

// The workers run `metering stream`; with --metrics-listen the liveness probe hits its /healthz on a declared port.
const streams = workloads.filter(m => m.kind === "Deployment" && component(m) === "stream");
for (const m of streams) {
  const c = podSpecOf(m).containers[0];
  if ((c.args || [])[0] !== "stream") fail(name(m), "the workers run `metering stream`");
  const listen = envOf(c).METERING_METRICS_LISTEN;
  const ports = new Set((c.ports || []).flatMap(p => [p.name, p.containerPort]));
  if (listen) {
    const port = Number((/:(\d+)\/?$/.exec(String(listen.value)) || [])[1]);
    if (!(c.ports || []).some(p => p.containerPort === port)) fail(name(m), `METERING_METRICS_LISTEN ${listen.value} is on no declared container port`);
  }
  const get = c.livenessProbe && c.livenessProbe.httpGet;
  if (get) {
    if (!listen) fail(name(m), "a liveness probe without METERING_METRICS_LISTEN: the worker serves no HTTP");
    if (get.path !== "/healthz") fail(name(m), `livenessProbe must probe /healthz, not ${get.path}`);
    if (!ports.has(get.port)) fail(name(m), `livenessProbe port ${get.port} is not a declared container port`);
  }
  if (c.readinessProbe) fail(name(m), "the worker has no /readyz: no readiness probe");
}

// The analytics exporter runs `metering export --follow` against a ClickHouse server.
const exporters = workloads.filter(m => m.kind === "Deployment" && component(m) === "export");
for (const m of exporters) {
  const c = podSpecOf(m).containers[0];
  const args = c.args || [];
  if (args[0] !== "export" || !args.includes("--follow")) fail(name(m), "the exporter runs `metering export --follow`");
  const cm = manifests.find(x => x.kind === "ConfigMap" && ((c.envFrom || []).some(f => f.configMapRef && f.configMapRef.name === x.metadata.name)));
  const url = (envOf(c).METERING_CLICKHOUSE_URL || {}).value || (cm && cm.data && cm.data.METERING_CLICKHOUSE_URL);
  if (!url) fail(name(m), "METERING_CLICKHOUSE_URL is required (without it export writes to an embedded chDB inside the pod)");
}

// The migration hook: a Job running `metering migrate` before install and upgrade.
const hooks = workloads.filter(m => m.kind === "Job" && /pre-install/.test((m.metadata.annotations || {})["helm.sh/hook"] || "")
  && /pre-upgrade/.test((m.metadata.annotations || {})["helm.sh/hook"] || ""));
if (hooks.length !== 1) fail("manifests", `expected exactly one pre-install,pre-upgrade hook Job, found ${hooks.length}`);
for (const m of hooks) {
  if ((podSpecOf(m).containers[0].args || [])[0] !== "migrate") fail(name(m), "the hook Job runs `metering migrate`");
  if (podSpecOf(m).restartPolicy !== "Never") fail(name(m), "restartPolicy must be Never (the Job's backoffLimit retries)");
}

// Autoscaled Deployments leave replicas to the HPA; every Deployment has a PodDisruptionBudget selecting it.
const deployments = manifests.filter(m => m.kind === "Deployment");
const hpas = manifests.filter(m => m.kind === "HorizontalPodAutoscaler");
for (const h of hpas) {
  const target = deployments.find(d => d.metadata.name === h.spec.scaleTargetRef.name);
  if (!target) fail(name(h), `scales ${h.spec.scaleTargetRef.name}, which is not rendered`);
  else if (target.spec.replicas !== undefined) fail(name(target), "has replicas although an HPA scales it (every upgrade would reset the count)");
  if (h.spec.minReplicas > h.spec.maxReplicas) fail(name(h), "minReplicas exceeds maxReplicas");
}
const pdbs = manifests.filter(m => m.kind === "PodDisruptionBudget");
for (const d of deployments) {
  const labels = d.spec.template.metadata.labels;
  const covered = pdbs.some(p => Object.entries(p.spec.selector.matchLabels || {}).every(([k, v]) => labels[k] === v));
  if (!covered) fail(name(d), "no PodDisruptionBudget selects its pods");
}

if (problems.length > 0) {
  for (const p of problems) console.log("FAIL " + p);
  console.log(`manifests: ${problems.length} problem(s) in ${manifests.length} object(s)`);
  process.exit(1);
}
const kinds = {};
for (const m of manifests) kinds[m.kind] = (kinds[m.kind] || 0) + 1;
console.log(`manifests: ok, ${manifests.length} object(s): ${Object.entries(kinds).map(([k, n]) => `${n} ${k}`).join(", ")}`);

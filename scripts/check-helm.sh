#!/usr/bin/env bash
# Checks the Helm chart helm/metering without a cluster: helm lint and helm template on the default values and on
# the production-like values, the rendered manifests against the deployment rules (scripts/lib/check-manifests.js:
# limits, non-root, read-only root, no inline credentials, API probes and JWT settings, worker /healthz probe, the
# exporter, the migration hook, ...), and that bad values
# are REJECTED (each must make helm template fail with the expected message). Installs helm on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/lib/prerequisites.sh
ensure_helm
command -v node >/dev/null 2>&1 || ensure_apt nodejs

chart=helm/metering
production=$chart/ci/production-values.yaml
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0

say() { printf '%s\n' "$*"; }
bad() { say "FAIL $*"; failures=$((failures + 1)); }

# kubectl parses the YAML (offline: --local) and prints JSON for the checker.
check_rendered() { # label file
  local json="$work/$1.json"
  if ! "$KUBECTL" annotate --local -f "$2" -o json metering.check/rendered=true >"$json" 2>"$work/$1.kubectl.err"; then
    bad "$1: kubectl could not parse the rendered manifests: $(head -n 3 "$work/$1.kubectl.err")"
    return
  fi
  if node scripts/lib/check-manifests.js <"$json" >"$work/$1.check"; then
    say "ok   $1: $(tail -n 1 "$work/$1.check")"
  else
    sed 's/^/     /' "$work/$1.check"
    bad "$1: rendered manifests break the deployment rules"
  fi
}

say "helm: $("$HELM" version --short)"

# 1. lint (strict: warnings fail) and template, default and production values.
for values in default production; do
  args=()
  [[ $values == production ]] && args=(--values "$production")
  if "$HELM" lint --strict "$chart" "${args[@]}" >"$work/lint-$values.txt" 2>&1; then
    say "ok   helm lint --strict ($values values): $(grep -c '^\[' "$work/lint-$values.txt" || true) note(s), $(tail -n 1 "$work/lint-$values.txt")"
  else
    sed 's/^/     /' "$work/lint-$values.txt"
    bad "helm lint ($values values)"
  fi
  if "$HELM" template metering "$chart" --namespace metering "${args[@]}" >"$work/$values.yaml" 2>"$work/$values.err"; then
    say "ok   helm template ($values values): $(grep -c '^kind:' "$work/$values.yaml") objects"
    check_rendered "$values" "$work/$values.yaml"
  else
    sed 's/^/     /' "$work/$values.err"
    bad "helm template ($values values)"
  fi
done

# 2. The production render must contain what production relies on.
if [[ -f "$work/production.yaml" ]]; then
  for expect in "kind: ServiceMonitor" "kind: HorizontalPodAutoscaler" "name: METERING_KAFKA_SASL_PASSWORD" "name: METERING_JWT_KEY" \
                "name: METERING_CONTRACTS" "name: metering-ledger-owner" \
                "name: METERING_JWT_ISSUER" "name: METERING_CLICKHOUSE_PASSWORD" "METERING_CLICKHOUSE_URL:" "name: METERING_REDIS" \
                "name: METERING_METRICS_LISTEN" "component: export" "port: metrics" \
                "kind: PrometheusRule" "name: metering-dashboard" "name: METERING_METRICS_PORT" "path: /readyz" "metering-export-metrics"; do
    grep -q "$expect" "$work/production.yaml" || bad "production render lacks '$expect'"
  done
fi

# 3. The checker itself must catch a bad manifest (a container without limits, running as root, with a password).
cat >"$work/known-bad.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad}
spec:
  selector: {matchLabels: {app: bad}}
  template:
    metadata: {labels: {app: bad, app.kubernetes.io/component: api}}
    spec:
      containers:
        - name: bad
          image: x
          env: [{name: METERING_PG, value: "Host=db;Password=hunter2"}]
EOF
if "$KUBECTL" annotate --local -f "$work/known-bad.yaml" -o json x=y 2>/dev/null | node scripts/lib/check-manifests.js >"$work/known-bad.check"; then
  bad "check-manifests.js accepted a known-bad manifest"
else
  say "ok   check-manifests.js rejects a known-bad manifest ($(grep -c '^FAIL' "$work/known-bad.check") problems found)"
fi

# 4. Bad values must be rejected: "--set arguments|text the error must contain".
rejections=(
  "stream.replicas=0|minimum"
  "api.replicas=two|want integer"
  "kafka.partitions=0|minimum"
  "stream.replicas=13|exceeds kafka.partitions"
  "stream.autoscaling.enabled=true,stream.autoscaling.maxReplicas=20|exceeds kafka.partitions"
  "kafka.securityProtocol=SASL|must be one of"
  "kafka.bootstrapServers=|minLength"
  "engine.onKeyLimit=drop|must be one of"
  "engine.unknownAccount=create|must be one of"
  "engine.maxRecordsPerFlush=0|minimum"
  "engine.flushInterval=soon|does not match pattern"
  "api.service.type=Ingress|must be one of"
  "image.pullPolicy=Sometimes|must be one of"
  "secrets.postgres.existingSecret=|minLength"
  "secrets.jwt.key=|minLength"
  "secrets.kafkaSasl.existingSecret=Not_A_Name|does not match pattern"
  "secrets.postgres.password=hunter2|additional properties"
  "stream.resources.limits=null|missing property 'limits'"
  "podSecurityContext.runAsNonRoot=false|value must be true"
  "containerSecurityContext.readOnlyRootFilesystem=false|value must be true"
  "containerSecurityContext.allowPrivilegeEscalation=true|value must be false"
  "stream.replica=3|additional properties 'replica' not allowed"
  "extraEnv[0].name=DB_PASSWORD,extraEnv[0].value=hunter2|inline value"
  "engine.extra.PG_PASSWORD=hunter2|looks like a credential"
  "api.auth.jwt.issuer=|minLength"
  "api.auth.jwt.audience=|minLength"
  "api.auth.jwt.enabled=false|value must be true"
  "secrets.jwt.existingSecret=|minLength"
  "clickhouse.url=|minLength"
  "clickhouse.url=clickhouse:8123|does not match pattern"
  "alerts.enabled=true,alerts.webhook=ftp://hooks|does not match pattern"
  "alerts.replicas=0|minimum"
  "clickhouse.enabled=false|api.enabled needs clickhouse.enabled"
  "secrets.clickhouse.connectionStringKey=x|additional properties"
  "stream.metrics.enabled=false|stream.probes.enabled needs stream.metrics.enabled"
  "engine.extra.CLICKHOUSE_PASSWORD=x|looks like a credential"
  "clickhouse.exporter.metrics.enabled=false|clickhouse.exporter.probes.enabled needs clickhouse.exporter.metrics.enabled"
  "alerts.metrics.port=0|minimum"
  "monitoring.dashboard.enable=true|additional properties"
)
rejected=0
for case in "${rejections[@]}"; do
  set_args="${case%%|*}" expect="${case#*|}"
  if "$HELM" template metering "$chart" --set "$set_args" >/dev/null 2>"$work/reject.err"; then
    bad "bad value accepted: --set $set_args"
  elif ! grep -qF -- "$expect" "$work/reject.err"; then
    bad "--set $set_args failed for another reason than '$expect': $(grep -m1 -v '^$' "$work/reject.err")"
  else
    rejected=$((rejected + 1))
  fi
done
say "ok   $rejected of ${#rejections[@]} bad values rejected with the expected message"

if (( failures > 0 )); then
  say "check-helm: $failures failure(s)"
  exit 1
fi
say "check-helm: all checks passed"

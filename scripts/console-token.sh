#!/usr/bin/env bash
# A development token for the console (docs/console.md): an HS256 JWT that `metering serve --jwt-key-file KEY_FILE
# --jwt-issuer ISS --jwt-audience AUD` accepts. Creates KEY_FILE (base64:..., 32 random bytes, mode 600) when missing.
#   usage: bash scripts/console-token.sh KEY_FILE [ISSUER] [AUDIENCE] [SCOPES] [HOURS] [ACCOUNT]
# Defaults: metering-dev, metering-api, "admin", 12 hours, no account claim. For development only: whoever holds
# the token holds its scopes until it expires.
set -euo pipefail
key_file="${1:?usage: console-token.sh KEY_FILE [ISSUER] [AUDIENCE] [SCOPES] [HOURS] [ACCOUNT]}"
issuer="${2:-metering-dev}" audience="${3:-metering-api}" scopes="${4:-admin}" hours="${5:-12}" account="${6:-}"
command -v openssl >/dev/null 2>&1 || { echo "error: openssl is needed to sign the token" >&2; exit 2; }
if [[ ! -f "$key_file" ]]; then
  mkdir -p "$(dirname "$key_file")"
  (umask 077 && echo "base64:$(openssl rand -base64 32)" > "$key_file")
fi
text="$(tr -d '\n' < "$key_file")"
[[ "$text" == base64:* ]] || { echo "error: $key_file must hold base64:... (as written by this script)" >&2; exit 2; }
hexkey="$(printf %s "${text#base64:}" | openssl base64 -d -A | od -An -v -tx1 | tr -d ' \n')"
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
json_string() { local s="${1//\\/\\\\}"; s="${s//\"/\\\"}"; printf '"%s"' "$s"; }
now="$(date +%s)"
payload="{\"iss\":$(json_string "$issuer"),\"aud\":$(json_string "$audience"),\"sub\":\"dev-console\",\"scope\":$(json_string "$scopes"),\"iat\":$now,\"nbf\":$now,\"exp\":$((now + hours * 3600))"
[[ -n "$account" ]] && payload+=",\"account\":$(json_string "$account")"
payload+="}"
signing_input="$(printf %s '{"alg":"HS256","typ":"JWT"}' | b64url).$(printf %s "$payload" | b64url)"
signature="$(printf %s "$signing_input" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hexkey" -binary | b64url)"
echo "$signing_input.$signature"

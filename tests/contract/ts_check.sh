#!/usr/bin/env bash
# `make ts-check`: generate TypeScript types from openapi.json and type-check client.ts against them.
# Skips (exit 0) when node/npm are not installed; fails when the spec changes incompatibly.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$here"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "ts-check: SKIPPED - node and npm are not installed (install Node.js 18+ to run the TypeScript client check)"
  exit 0
fi

py="$root/.venv/bin/python"
[ -x "$py" ] || py="python3"
if ! (cd "$root" && "$py" -m app.openapi_doc --check >/dev/null 2>&1); then
  echo "ts-check: warning: openapi.json or openapi.md is stale; run 'make openapi' (checking the committed file anyway)" >&2
fi

# Reinstall only when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.ts-check-lock; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.ts-check-lock
fi

mkdir -p generated
# --default-non-nullable=false: request fields with a server-side default stay optional for callers
# (responses are unaffected: FastAPI's output schemas already mark them required).
./node_modules/.bin/openapi-typescript "$root/openapi.json" --output generated/api.d.ts --default-non-nullable=false --silent
./node_modules/.bin/tsc --noEmit --strict --target es2022 --lib es2022,dom --module es2022 \
  --moduleResolution bundler --noUnusedLocals --noUnusedParameters client.ts
echo "ts-check: client.ts type-checks against the types generated from openapi.json"

#!/usr/bin/env bash
# Creates ./.venv and installs the project into it (torch CPU build first, so that
# the torch requirement never pulls a multi-GB CUDA build). Re-runs only when
# pyproject.toml changes. Prints the venv's python path on its last line.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${TRAINYARD_VENV:-$root/.venv}"
stamp="$venv/.trainyard-installed"
want="$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv" >&2
fi
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    log="$venv/install.log"
    {
        "$venv/bin/pip" install "torch==${TRAINYARD_TORCH_VERSION:-2.13.0}" &&
        "$venv/bin/pip" install -e "$root[api,serve,worker,client,dev]"
    } >"$log" 2>&1 || { tail -40 "$log" >&2; echo "install failed; see $log" >&2; exit 1; }
    echo "$want" > "$stamp"
fi
echo "$venv/bin/python"

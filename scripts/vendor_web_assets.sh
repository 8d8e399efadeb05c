#!/usr/bin/env bash
# Refreshes the dashboard's vendored charting library (uPlot, MIT) from the npm registry.
# The files are committed, so a clean checkout needs no network to serve the dashboard; run this
# only to change the pinned version (and commit the result).
set -euo pipefail
UPLOT_VERSION="${UPLOT_VERSION:-1.6.32}"
here="$(cd "$(dirname "$0")/.." && pwd)"
dest="$here/app/web/static/vendor/uplot"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "uplot@$UPLOT_VERSION" >/dev/null && tar xzf "uplot-$UPLOT_VERSION.tgz")
mkdir -p "$dest"
cp "$work/package/dist/uPlot.esm.js" "$dest/uPlot.esm.js"
cp "$work/package/dist/uPlot.min.css" "$dest/uPlot.min.css"
cp "$work/package/LICENSE" "$dest/LICENSE"
echo "uplot@$UPLOT_VERSION" > "$dest/VERSION"
echo "vendored uplot@$UPLOT_VERSION into $dest"

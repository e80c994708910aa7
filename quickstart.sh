#!/usr/bin/env bash
# One entry point for a fresh machine with Python 3.11:
#   ./quickstart.sh demo [--images DIR]   install everything into ./.venv, run the demo offline
#   ./quickstart.sh test [PYTEST ARGS]    install everything into ./.venv, run the whole test suite
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
VENV=.venv

install() {
    if [ ! -x "$VENV/bin/python" ]; then
        "$PYTHON" -m venv "$VENV"
    fi
    "$VENV/bin/python" - <<'PY' || { echo "adseed needs Python >= 3.11" >&2; exit 1; }
import sys; sys.exit(sys.version_info < (3, 11))
PY
    # Re-install only when the dependency list changed since the last install.
    stamp="$VENV/.adseed-install-stamp"
    want=$(cat pyproject.toml quickstart.sh | sha256sum | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return
    fi
    pip=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
    # torch first and pinned: an unpinned resolve pulls gigabytes of CUDA wheels.
    "${pip[@]}" "torch==2.13.0"
    "${pip[@]}" -e ".[clip,demo,dev,diffusers,app]"
    # open_clip without its dependencies: they would pull torchvision, which is built
    # for CUDA torch and breaks imports here; adseed does CLIP's preprocessing itself.
    "${pip[@]}" --no-deps "open_clip_torch==3.3.0"
    echo "$want" > "$stamp"
}

browser() {
    # The app's end-to-end test drives Debian's chromium through Playwright (pip cannot
    # ship a browser and nothing may be downloaded at run time); without it, it skips.
    if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
            >/dev/null 2>&1 || echo "could not install chromium: the browser test will skip" >&2
    fi
}

cmd=${1:-}
shift || true
case "$cmd" in
    demo)
        install
        exec "$VENV/bin/adseed" demo "$@"
        ;;
    test)
        install
        browser
        exec "$VENV/bin/python" -m pytest "$@"
        ;;
    *)
        echo "usage: ./quickstart.sh demo [--images DIR] | test [PYTEST ARGS]" >&2
        exit 2
        ;;
esac

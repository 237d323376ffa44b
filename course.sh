#!/usr/bin/env bash
# One entry point for learners, instructors and CI.
#   ./course.sh run    set up, build the offline sample, run every notebook headless
#   ./course.sh test   set up, then run the test suite (notebooks included), then the
#                      Python 3.12 / Colab recipe's run if Python 3.12 exists (test312)
#   ./course.sh lab    set up, build the sample, open JupyterLab on the course
#   ./course.sh setup  only create/update the environment in .venv
#   ./course.sh bench  set up, add the benchmark peers, run benchmarks/*.py
#   ./course.sh test312  only the Python 3.12 / Colab recipe's run (see colab/)
#   ./course.sh lock   regenerate the three locks (3.11, Binder, 3.12/Colab) with uv from
#                      pyproject.toml (maintainers; needs PyPI; keeps the current pins
#                      unless you delete a line or pass --upgrade-package NAME)
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
PY="$VENV/bin/python"

find_python() {
    for candidate in "${COURSE_PYTHON:-}" python3.11 python3 python; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
            echo "$candidate"; return 0
        fi
    done
    echo "error: Python 3.11 is required (allensdk 2.16.2 installs on 3.8-3.11 only)." >&2
    echo "Install it (e.g. pyenv install 3.11, or conda: see README) or set COURSE_PYTHON." >&2
    return 1
}

setup() {
    local stamp="$VENV/.requirements.sha256" want
    want=$( (cat requirements.txt pyproject.toml) | sha256sum | cut -d' ' -f1)
    if [ -x "$PY" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    if [ ! -x "$PY" ]; then
        echo "creating $VENV with $(find_python)"
        "$(find_python)" -m venv "$VENV"
    fi
    echo "installing the pinned environment into $VENV (about a minute)"
    "$PY" -m pip install --quiet --disable-pip-version-check -r requirements.txt
    "$PY" -m pip install --quiet --disable-pip-version-check --no-deps -e .
    "$PY" -m ipykernel install --sys-prefix --name python3 >/dev/null
    # Compile the spike-counting kernel now (numba caches it beside its source), so that
    # no notebook waits for it; numba recompiles by itself if the source changes.
    "$PY" -c "from course_utils import _spikes_numba; _spikes_numba.warm_up()"
    echo "$want" > "$stamp"
}

ensure_chromium() {   # tests/test_site.py opens the course site in headless Chromium
    local chromium="${COURSE_CHROMIUM:-/usr/bin/chromium}"
    [ -x "$chromium" ] && return 0
    if [ "$chromium" = /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing Chromium for the site test (apt-get install chromium, about a minute)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq chromium >/dev/null 2>&1 ||
            { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || true
    fi
    [ -x "$chromium" ] || echo "warning: no Chromium at $chromium, so tests/test_site.py will" \
        "fail: install it (Debian/Ubuntu: sudo apt-get install chromium) or set COURSE_CHROMIUM" >&2
}

case "${1:-}" in
    setup) setup ;;
    run)   setup; "$PY" -m course_utils run-notebooks ;;
    test)  setup; ensure_chromium; "$PY" -m course_utils build-sample --quiet; shift
           if [ $# -gt 0 ]; then
               echo "[3.12] not run (pytest arguments given); ./course.sh test312 runs it"
               exec "$PY" -m pytest "$@"
           fi
           # The Python 3.12 / Colab run shares nothing with the 3.11 suite (own venv,
           # sample and temporary folders), so both run at once on the two cores; its
           # log is printed when the 3.11 suite is done. It runs in its own process
           # group (set -m), which is stopped with everything in it if this script ends
           # early (Ctrl-C, a failure).
           log312=$(mktemp)
           set -m
           "$PY" -m course_utils test-py312 >"$log312" 2>&1 & pid312=$!
           set +m
           trap 'kill -- -"$pid312" 2>/dev/null || true; rm -f "$log312"' EXIT
           echo "[3.12] running alongside (pid $pid312); its log follows the 3.11 results"
           status=0; "$PY" -m pytest || status=$?
           status312=0; wait "$pid312" || status312=$?
           cat "$log312"; rm -f "$log312"
           [ "$status" -eq 0 ] && [ "$status312" -eq 0 ] ;;
    test312) setup; "$PY" -m course_utils test-py312 ;;
    bench) setup
           "$PY" -m pip install --quiet --disable-pip-version-check --no-deps -r benchmarks/requirements.txt
           "$PY" -m course_utils build-sample --quiet
           for script in benchmarks/[a-z]*.py; do echo "== $script"; "$PY" "$script"; done ;;
    lab)   setup; "$PY" -m course_utils build-sample; "$VENV/bin/jupyter" lab notebooks ;;
    lock)  shift; setup
           # uv in its own small venv (a maintainer tool, not part of the course)
           [ -x .venv-lock/bin/uv ] || { "$(find_python)" -m venv .venv-lock &&
               .venv-lock/bin/pip install --quiet --disable-pip-version-check uv==0.13.9; }
           common=(--no-emit-package setuptools --no-emit-package wheel --no-annotate
                   --custom-compile-command "./course.sh lock" --quiet)
           # Binder: pip installs binder/requirements.txt into repo2docker's own Jupyter
           # server environment, so every package both hold stays at the server's version
           # (binder/repo2docker-server-env.txt; course_utils/tools/binder.py says why)
           # All three are written into a scratch folder beside them first and moved into
           # place only when every compile has succeeded: a failure leaves the old locks.
           work=$(mktemp -d "$PWD/.lock-work.XXXXXX")
           trap 'rm -rf "$work"' EXIT
           # uv keeps an output file's current pins where they still fit (new ones only
           # with --upgrade or --upgrade-package), so the scratch copies start as the locks
           cp requirements.txt "$work/requirements.txt"
           cp binder/requirements.txt "$work/binder-requirements.txt"
           for extras in "--extra notebooks --extra lab --extra test:requirements.txt" \
                         "--extra notebooks -c binder/repo2docker-server-env.txt:binder-requirements.txt"; do
               # shellcheck disable=SC2086
               .venv-lock/bin/uv pip compile pyproject.toml ${extras%%:*} "$@" "${common[@]}" \
                   --python-version 3.11.7 --python-platform x86_64-unknown-linux-gnu \
                   -o "$work/${extras##*:}"
           done
           # Python 3.12 (Colab): the analysis dependencies at the new requirements.txt's
           # versions, except what 3.12 forces (course_utils/tools/py312.py: CHANGED, REMOVED)
           mkdir "$work/py312"
           "$PY" -m course_utils.tools.py312 lock-inputs "$work/py312" "$work/requirements.txt"
           # shellcheck disable=SC2046
           .venv-lock/bin/uv pip compile pyproject.toml "$@" "${common[@]}" \
               --python-version 3.12 --python-platform x86_64-unknown-linux-gnu \
               --override "$work/py312/overrides.txt" -c "$work/py312/constraints.txt" \
               $(sed 's/^/--no-emit-package /' "$work/py312/removed.txt") \
               -o "$work/py312/lock.txt"
           cat "$work/py312/header.txt" "$work/py312/lock.txt" > "$work/requirements-py312.txt"
           mv "$work/requirements.txt" requirements.txt
           mv "$work/binder-requirements.txt" binder/requirements.txt
           mv "$work/requirements-py312.txt" requirements-py312.txt
           echo "wrote requirements.txt, binder/requirements.txt and requirements-py312.txt" ;;
    *)     sed -n '2,14p' "$0"; exit 2 ;;
esac

#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (base image: Ubuntu 22.04;
# 24.04 works too, see below). Written by `python -m autograder gradescope`; see docs/grading.md.
#
# It makes $ROOT/venv with a Python the course supports (setup.env: PYTHON_MIN <= version <
# PYTHON_BELOW), installs the CPU build of the pinned torch/torchvision from PyTorch's CPU wheel
# index (no CUDA wheels: about 0.9 GB instead of 6 GB), then every other package at the versions
# in requirements.txt, then the course package itself (non-editable), and checks the result.
#
# Settings (environment variables; the defaults are what Gradescope needs):
#   AUTOGRADER_ROOT         Gradescope's root folder                  (default /autograder)
#   AUTOGRADER_PYTHON       a Python to use instead of looking for one
#   AUTOGRADER_TORCH_INDEX  where the CPU torch wheels come from      (default PyTorch's CPU index)
#   AUTOGRADER_SETUP_DRY_RUN=1  print the install commands instead of running them
#   AUTOGRADER_SETUP_REUSE_SITE=DIR[:DIR]  TEST ONLY: install nothing from an index; the venv
#                           reads its packages from these site-packages folders (the test suite
#                           uses the current environment's, so that setup takes seconds, offline)
set -euo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="$ROOT/venv"
TORCH_INDEX="${AUTOGRADER_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"
# shellcheck source=/dev/null
source "$SOURCE/setup.env"
started=$(date +%s)

run() {  # a command, or only its text under AUTOGRADER_SETUP_DRY_RUN=1
    if [ "${AUTOGRADER_SETUP_DRY_RUN:-0}" = 1 ]; then echo "+ $*"; else "$@"; fi
}

python_ok() {  # is "$1" a Python in [PYTHON_MIN, PYTHON_BELOW)?
    "$1" -c "import sys; v = sys.version_info[:2]; sys.exit(not (($PYTHON_MIN_TUPLE) <= v < ($PYTHON_BELOW_TUPLE)))" 2>/dev/null
}
PYTHON_MIN_TUPLE="${PYTHON_MIN/./,}"
PYTHON_BELOW_TUPLE="${PYTHON_BELOW/./,}"

find_python() {
    local candidate
    for candidate in "${AUTOGRADER_PYTHON:-}" "python$PYTHON_MIN" python3; do
        if [ -n "$candidate" ] && command -v "$candidate" >/dev/null && python_ok "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

install_python() {
    # Ubuntu 22.04 packages python3.11 (with venv); 24.04 does not: there a standalone CPython build
    # comes from uv (https://docs.astral.sh/uv/), installed under /opt so student code can read it.
    apt-get update
    if apt-cache show "python$PYTHON_MIN-venv" >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y "python$PYTHON_MIN" "python$PYTHON_MIN-venv"
    else
        DEBIAN_FRONTEND=noninteractive apt-get install -y curl ca-certificates
        curl -LsSf https://astral.sh/uv/install.sh | env UV_INSTALL_DIR=/opt/uv UV_NO_MODIFY_PATH=1 sh
        UV_PYTHON_INSTALL_DIR=/opt/python /opt/uv/uv python install "$PYTHON_MIN"
        AUTOGRADER_PYTHON="$(UV_PYTHON_INSTALL_DIR=/opt/python /opt/uv/uv python find "$PYTHON_MIN")"
    fi
}

if [ -n "${AUTOGRADER_PYTHON:-}" ] && ! python_ok "$AUTOGRADER_PYTHON"; then
    echo "setup.sh: AUTOGRADER_PYTHON=$AUTOGRADER_PYTHON is not Python >= $PYTHON_MIN, < $PYTHON_BELOW" >&2
    exit 1
fi
PYTHON="$(find_python)" || { install_python && PYTHON="$(find_python)"; } || {
    echo "setup.sh: no Python >= $PYTHON_MIN, < $PYTHON_BELOW found or installable; choose the" \
        "Ubuntu 22.04 base image in Gradescope's autograder settings" >&2
    exit 1
}
echo "setup.sh: using $PYTHON ($("$PYTHON" --version))"

PIP=(run "$VENV/bin/python" -m pip --disable-pip-version-check)
if [ -n "${AUTOGRADER_SETUP_REUSE_SITE:-}" ]; then
    echo "setup.sh: TEST ONLY: reusing the packages in $AUTOGRADER_SETUP_REUSE_SITE"
    # pip and setuptools come from the reused folders too (a fresh venv's setuptools cannot build wheels)
    "$PYTHON" -m venv --without-pip "$VENV"
    SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    tr ':' '\n' <<<"$AUTOGRADER_SETUP_REUSE_SITE" >"$SITE/zz_autograder_reuse.pth"
    "${PIP[@]}" install --quiet --no-deps --no-index --no-build-isolation "$SOURCE/course"
else
    run "$PYTHON" -m venv "$VENV"
    "${PIP[@]}" install --quiet --upgrade pip
    "${PIP[@]}" install --quiet --no-deps --index-url "$TORCH_INDEX" \
        "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
    "${PIP[@]}" install --quiet -r "$SOURCE/requirements.txt"
    "${PIP[@]}" install --quiet --no-deps "$SOURCE/course"
    "${PIP[@]}" check
fi

# The grader must import, with the pinned torch; the CPU build unless reusing a test environment.
run "$VENV/bin/python" - <<EOF
import torch, torchvision, autograder.gradescope.run  # noqa: F401
version = torch.__version__.split("+")[0]
assert version == "$TORCH_VERSION", f"torch {torch.__version__} installed, $TORCH_VERSION pinned"
if not "${AUTOGRADER_SETUP_REUSE_SITE:-}":
    assert torch.version.cuda is None, f"a CUDA build of torch was installed ({torch.version.cuda})"
print("setup.sh: torch", torch.__version__, "torchvision", torchvision.__version__)
EOF

# Student code runs as another uid: without read permission it cannot open the course files, the
# hidden references or the upload even where the sandbox cannot hide them with mounts.
run chmod -R go-rwx "$SOURCE"
run chmod 755 "$ROOT/run_autograder" 2>/dev/null || true

echo "setup.sh: installed in $(($(date +%s) - started)) s; environment: $(du -sh "$VENV" 2>/dev/null | cut -f1)"

# Self-test: run_autograder on a stand-in upload (a solution's work, wrong answers) under this
# container's limits; prints the time and peak memory against the memory limit and CPU quota. A
# failure is reported, not fatal: the grading containers may get other limits than this build.
if [ "${AUTOGRADER_SETUP_DRY_RUN:-0}" != 1 ]; then
    "$VENV/bin/python" -m autograder gradescope-selftest --root "$ROOT" ||
        echo "setup.sh: WARNING: the self-test failed (see above); grading may fail the same way"
fi
echo "setup.sh: done in $(($(date +%s) - started)) s"

# Sourced by quickstart.sh and run_tests.sh: make .venv and install the
# project into it with the extras given as arguments.
#
# Re-running is cheap: pip is only called when setup.py or the extras changed
# since the last successful install (a stamp file in .venv records both).
# PYTHON picks the interpreter (default python3; TensorFlow 2.21 has wheels
# for Python 3.10-3.13 only).

ensure_venv() {
  local extras="$1"
  local root venv py stamp want
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  venv="${VENV:-$root/.venv}"
  py="${PYTHON:-python3}"
  if [ ! -x "$venv/bin/python" ]; then
    if ! "$py" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 13))'; then
      echo "error: $py is Python $("$py" -c 'import platform; print(platform.python_version())' 2>/dev/null || echo '?'); TensorFlow 2.21 needs Python 3.10-3.13. Set PYTHON=python3.12 (for example)." >&2
      return 1
    fi
    echo "Creating $venv ..."
    "$py" -m venv "$venv" || return 1
  fi
  stamp="$venv/.classic-tf-tutorials-installed"
  want="$(cat "$root/setup.py" | cksum | cut -d' ' -f1) [$extras]"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "Installing classic-tf-tutorials[$extras] into $venv (about a minute the first time) ..."
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      -e "$root[$extras]" || return 1
    echo "$want" > "$stamp"
  fi
  export PATH="$venv/bin:$PATH"
  export VIRTUAL_ENV="$venv"
}

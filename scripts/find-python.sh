#!/usr/bin/env bash
# Prints the path of a Python 3.10 interpreter (Rasa 3.6 does not run on 3.11+).
# Order: $PYTHON, python3.10 on PATH, pyenv installs, common system paths, python3 if it is 3.10.
set -u
is310() { "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' 2>/dev/null; }
candidates=()
[ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
command -v python3.10 >/dev/null 2>&1 && candidates+=("$(command -v python3.10)")
for dir in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10* /root/.pyenv/versions/3.10*; do
  [ -x "$dir/bin/python" ] && candidates+=("$dir/bin/python")
done
candidates+=(/usr/local/bin/python3.10 /usr/bin/python3.10 /opt/python3.10/bin/python3.10)
command -v python3 >/dev/null 2>&1 && candidates+=("$(command -v python3)")
for candidate in "${candidates[@]}"; do
  if [ -x "$candidate" ] && is310 "$candidate"; then
    echo "$candidate"
    exit 0
  fi
done
echo "Python 3.10 not found. Install it (e.g. pyenv install 3.10) or set PYTHON=/path/to/python3.10." >&2
exit 1

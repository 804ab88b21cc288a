#!/usr/bin/env bash
# Executes the notebooks in place with the Tokenmill Java kernel, so that the committed notebooks carry fresh outputs
# (plots included). Needs Jupyter from Debian: apt-get install jupyter-nbconvert python3-nbclient jupyter-client.
# The build's NotebooksTest executes them the same way into target/ (and fails on any cell error).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
./mvnw -q -B -pl notebooks -am -DskipTests compile dependency:build-classpath@kernel-classpath
for nb in "${@:-notebooks/quickstart.ipynb notebooks/nightly-scoring.ipynb notebooks/throughput.ipynb}"; do
  for f in $nb; do
    echo "executing $f" >&2
    JUPYTER_PATH="$root/notebooks/kernel" /usr/bin/jupyter-nbconvert --to notebook --execute --inplace \
      --ExecutePreprocessor.timeout=900 "$f"
  done
done

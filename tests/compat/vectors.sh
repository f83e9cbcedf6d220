#!/usr/bin/env bash
# A second implementation (Python) agrees with the known-answer vectors in tests/vectors/.
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 tests/vectors/check_vectors.py

#!/usr/bin/env bash
# Compare the project's reference data (reference/*.csv, the project's own truth) with another copy,
# e.g. the forces' shared one:   scripts/compare-reference.sh ../shared/reference
# Prints each file that differs or is in one copy only; exit 0 when both hold the same files with the
# same bytes, 1 when they differ, 2 for wrong usage. Changes nothing: to take a shared file in, copy it
# into reference/ and commit it (the mapping restates history on the next run; docs/warehouse.md).
set -euo pipefail
if [[ $# -ne 1 || ! -d $1 ]]; then
  echo "usage: $0 DIR   (a folder of reference CSV files, e.g. ../shared/reference)" >&2
  exit 2
fi
project="$(cd "$(dirname "$0")/.." && pwd)/reference"
other="$1"
status=0
shopt -s nullglob
for path in "$project"/*.csv; do
  name=$(basename "$path")
  if [[ ! -f $other/$name ]]; then
    echo "only in the project: reference/$name"
    status=1
  elif ! cmp -s "$path" "$other/$name"; then
    echo "differs: reference/$name and $other/$name"
    diff -u "$path" "$other/$name" | head -20 || true
    status=1
  fi
done
for path in "$other"/*.csv; do
  name=$(basename "$path")
  if [[ ! -f $project/$name ]]; then
    echo "only in $other: $name (not in the project's reference/)"
    status=1
  fi
done
if [[ $status -eq 0 ]]; then
  echo "reference/ and $other hold the same files, byte for byte"
fi
exit $status

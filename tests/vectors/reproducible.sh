#!/usr/bin/env bash
# vectors.reproducible: regenerate proto/vectors/ into a scratch directory with
# dbk_vectool and diff byte for byte. A vector that changes between runs (random
# or uninitialised bytes) or that the committed files do not match fails here.
# Files the generator does not write (hand-written vectors, README.md) must be
# listed in HAND below, so a stale generated file cannot hide.
#   reproducible.sh SOURCE_DIR VECTOOL
set -euo pipefail
src=$1 vectool=$2
HAND=(README.md checklist.json links.json versions.json)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/a" "$tmp/b"
"$vectool" gen "$tmp/a"
"$vectool" gen "$tmp/b"
fail=0
if ! diff -r "$tmp/a" "$tmp/b" >/dev/null; then
    echo "two runs of dbk_vectool gen differ:"; diff -rq "$tmp/a" "$tmp/b" || true; fail=1
fi
for f in "$tmp/a"/*; do
    name=$(basename "$f")
    if ! cmp -s "$f" "$src/proto/vectors/$name"; then
        echo "proto/vectors/$name differs from a fresh dbk_vectool gen:"
        diff -u "$src/proto/vectors/$name" "$f" | head -20 || true
        fail=1
    fi
done
for f in "$src"/proto/vectors/*; do
    name=$(basename "$f")
    [[ -e "$tmp/a/$name" ]] && continue
    case " ${HAND[*]} " in *" $name "*) continue ;; esac
    echo "proto/vectors/$name is neither generated nor listed as hand-written"; fail=1
done
[[ $fail == 0 ]] && echo "proto/vectors: $(ls "$tmp/a" | wc -l) generated files reproduce byte for byte"
exit $fail

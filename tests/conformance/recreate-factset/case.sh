# Upstream recreate-factset (§11.7): factset 00000000's halibut facts, printed as cat-facts
# lines (entity|namespace|name|value|date|time) from debug-dump-facts, are the same before and
# after health-recreate; the originals move to tmp/expired; verify finds the new files.
# Input facts: upstream's input/facts is not in the stored index; this is the shared ingest
# case's facts-1 with lower-case namespace folders (its halibut lines give upstream's
# expected/halibut-facts.psv exactly). Run: /work/shared/conformance/run <this folder>.
halibut() {
  ivory debug-dump-facts -r "$REPO" -f 00000000 | awk -F'|' '$2 == "halibut"' \
    | sed -E 's/T([0-9:]{8})\|Factset\[[0-9a-f]{8}\]$/|\1/'
}
ivory create-repository -z "Australia/Sydney" "$REPO"
ivory import-dictionary -p "$IN/dictionary.psv"
ivory ingest -i "sparse:delimited:psv=$IN/facts"
halibut > "$OUT/before.psv"
expect_sorted halibut-facts.psv "$OUT/before.psv"
ivory health-recreate -r "$REPO" -f 00000000 > "$OUT/recreate.out"
head -1 "$OUT/recreate.out" | grep -qx 'Successful recreations with their original data:'
grep -q "^00000000 -> .*/tmp/expired/00000000\.[0-9]\{14\}$" "$OUT/recreate.out"
halibut > "$OUT/after.psv"
expect_sorted halibut-facts.psv "$OUT/after.psv"
[ -z "$(find "$REPO/factsets/00000000" -name 'part-*')" ]
[ -n "$(find "$REPO/tmp/expired" -name 'part-*.parquet')" ]
ivory verify -r "$REPO"

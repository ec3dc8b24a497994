# health-recreate: a factset rewritten in the current format holds the same facts (§11.7).
ivory create-repository -z "Australia/Sydney" "$REPO"
ivory import-dictionary -p "$IN/dictionary.psv"
ivory ingest -i "sparse:delimited:psv=$IN/facts"
# check factset before recreation
ivory debug-dump-facts -r "$REPO" -f 00000000 > "$OUT/facts.psv"
expect_sorted facts.psv "$OUT/facts.psv"
# recreate the factset
ivory health-recreate -r "$REPO" -f 00000000 > "$OUT/first.out"
# check factset after recreation
ivory debug-dump-facts -r "$REPO" -f 00000000 > "$OUT/facts-after.psv"
expect_sorted facts.psv "$OUT/facts-after.psv"
# beyond upstream's script (§11.7): the printed result, the originals moved to tmp/expired,
# and a repository that still verifies
head -1 "$OUT/first.out" | grep -qx 'Successful recreations with their original data:'
grep -q "^00000000 -> .*/tmp/expired/00000000\.[0-9]\{14\}$" "$OUT/first.out"
[ -n "$(find "$REPO/tmp/expired" -name '*.parquet')" ]
ivory verify -r "$REPO"

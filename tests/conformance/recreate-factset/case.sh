# health-recreate: a factset rewritten in the current format holds the same facts (§11.7).
ivory create-repository -z "Australia/Sydney" "$REPO"
ivory import-dictionary -p "$IN/dictionary.psv"
ivory ingest -i "sparse:delimited:psv=$IN/facts"
# check factset before recreation
ivory debug-dump-facts -r "$REPO" -f 00000000 > "$OUT/facts.psv"
expect_sorted facts.psv "$OUT/facts.psv"
# recreate the factset
ivory health-recreate -r "$REPO" -f 00000000
# check factset after recreation
ivory debug-dump-facts -r "$REPO" -f 00000000 > "$OUT/facts-after.psv"
expect_sorted facts.psv "$OUT/facts-after.psv"

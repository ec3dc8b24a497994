# rename: mapped features copied, renamed and de-duplicated into a new factset (§11.8).
ivory create-repository -z Australia/Sydney "$REPO"
ivory import-dictionary -p "$IN/dictionary.psv"
ivory ingest -i "sparse:delimited:psv=$IN/facts"
# Make sure we test priority
ivory ingest -i "sparse:delimited:psv=$IN/facts2"
ivory rename -m "halibut:preheat=halibut2:warmup" -m "halibut:cooldown=halibut2:exercise" -b "$IN/mapping.psv"
ivory debug-dump-facts -r "$REPO" -f 00000002 > "$OUT/facts.psv"
expect_sorted facts.psv "$OUT/facts.psv"

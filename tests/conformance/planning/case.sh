# Planning: an incremental snapshot over a previous one, and each --plan-strategy from
# scratch, give the same sparse extract (§7.4).
ivory create-repository -z Australia/Sydney "$REPO"
ivory import-dictionary -r "$REPO" -p "$IN/dictionary.psv"
ivory ingest -i "sparse:delimited:psv=$IN/facts-v0"
ivory snapshot
ivory ingest -i "sparse:delimited:psv=$IN/facts-v2"

ivory snapshot -o "sparse:psv=$OUT/snapshot"
expect_parts snapshot.psv "$OUT/snapshot"
rm -rf "$REPO/snapshots" "$OUT/snapshot"

ivory snapshot --plan-strategy optimistic -o "sparse:psv=$OUT/snapshot"
expect_parts snapshot.psv "$OUT/snapshot"
rm -rf "$REPO/snapshots/00000001" "$OUT/snapshot"

ivory snapshot --plan-strategy pessimistic -o "sparse:psv=$OUT/snapshot"
expect_parts snapshot.psv "$OUT/snapshot"
rm -rf "$REPO/snapshots/00000001" "$OUT/snapshot"

ivory snapshot --plan-strategy conservative -o "sparse:psv=$OUT/snapshot"
expect_parts snapshot.psv "$OUT/snapshot"
rm -rf "$REPO/snapshots/00000001" "$OUT/snapshot"

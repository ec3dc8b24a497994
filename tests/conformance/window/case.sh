# Windows, filters, expressions and state features: snapshots, a sparse extract and its
# .dictionary, a chord, and debug-dump-reduction (§7.3, §8, §9.5, §10, §11.2).
# Duplicate all the facts for state until we have state/set only expressions (upstream #448)
cp -r "$IN/facts" "$OUT/input"
cp -r "$IN/facts/expression" "$OUT/input/expression_state"
cp -r "$IN/facts/filter" "$OUT/input/filter_state"
cp -r "$IN/facts/halibut" "$OUT/input/halibut_state"

ivory create-repository -z "Australia/Sydney" "$REPO"
ivory import-dictionary -p "$IN/dictionary.psv"
ivory ingest -i "sparse:delimited:psv=$OUT/input"

snapshot() {
  ivory snapshot -d "$1"
  ivory debug-dump-facts -r "$REPO" -s "0000000$2" > "$OUT/snapshot$2.psv"
  # Just make sure it exists - it has a timestamp which makes it very hard to diff test
  cat "$REPO/snapshots/0000000$2/.stats"
  expect_sorted "snapshot$2.psv" "$OUT/snapshot$2.psv"
}
snapshot 2014-05-03 0
snapshot 2014-07-01 1

ivory snapshot -o "sparse:psv=$OUT/snapshot" --date 2014-07-01 --sample-rate 1
expect_exact snapshot.psv "$OUT/snapshot/part-m-00000"
expect_exact dictionary.psv "$OUT/snapshot/.dictionary"
cat "$OUT/snapshot/.profile"

ivory chord -o "sparse:psv=$OUT/chord" --entities "$IN/chord.psv" --sample-rate 1
expect_exact chord.psv "$OUT/chord/part-m-00000"

ivory debug-dump-reduction -e "ID00000000" -e "ID00000001" -f "halibut:sum" -f "expression:count_by" -f "expression_state:num_flips" -o "$OUT/dump" -s 00000001
expect_parts dump.psv "$OUT/dump"

# Struct features from Thrift input through snapshot, Thrift and deprecated-text extracts,
# and cat-thrift (§4.5, §5.5, §9.1, §9.4, §9.5, §11.4).
# Upstream ran these three with an old (v2) binary: ingest of Thrift SequenceFiles.
ivory create-repository -z "Australia/Sydney" "$REPO"
ivory import-dictionary -r "$REPO" -p "$IN/dictionary.psv"
ivory ingest -r "$REPO" -i "sparse:thrift=$IN/facts" -z "Australia/Sydney"

ivory update
ivory snapshot -o "dense:thrift=$OUT/dense.thrift" -o "sparse:thrift=$OUT/sparse.thrift" \
  -o "dense:psv:deprecated=$OUT/dense-deprecated" -o "sparse:psv:deprecated=$OUT/sparse-deprecated"
ivory debug-dump-facts -r "$REPO" -s 00000000 > "$OUT/snapshot.psv"
expect_sorted snapshot.psv "$OUT/snapshot.psv"

expect_exact dictionary.psv "$OUT/dense.thrift/.dictionary"
expect_exact dictionary.psv "$OUT/sparse.thrift/.dictionary"
expect_parts dense-deprecated.psv "$OUT/dense-deprecated"
expect_parts sparse-deprecated.psv "$OUT/sparse-deprecated"

cat_thrift() {
  ivory cat-thrift -f "$1" -o "$OUT/$1.psv" "$OUT/$1.thrift"
  expect_parts "$1.psv" "$OUT/$1.psv"
}
cat_thrift dense
cat_thrift sparse
cp -r "$IN/facts/halibut" "$OUT/fact.thrift"
cat_thrift fact

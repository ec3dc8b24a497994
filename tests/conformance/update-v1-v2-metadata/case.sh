# update from metadata v1: commands refuse the old repository until `ivory update`; then
# ingest and snapshot work on it (§2.6).
# Upstream builds the repository with an old release ($IVORY_V4: Last stop before we added size to factset metadata, i.e. metadata v1);
# here our CLI builds it and lib/legacy.py sets it back to what that release left.
legacy() { ${IVORY_PYTHON:-python3} "$CASE/../lib/legacy.py" "$@"; }
ivory create-repository -z Australia/Sydney "$REPO"
ivory import-dictionary -r "$REPO" -p "$IN/dictionary.psv"
ivory ingest -i "sparse:delimited:psv=$IN/facts-v1"
ivory snapshot
legacy "$REPO" v1 --metadata-json 00000000 "$(date +%Y-%m-%d)" 00000002

# LATEST
if ivory cat-dictionary; then echo "Do not pass go - upgrade was not required"; exit 1; fi
ivory update

# INGEST
ivory ingest -i "sparse:delimited:psv=$IN/facts-v2"

# SNAPSHOT
ivory snapshot -o "dense:psv=$OUT/snap-dense" -o "sparse:psv=$OUT/snap-sparse"
ivory debug-dump-facts -r "$REPO" -s 00000001 > "$OUT/snapshot.psv"
expect_sorted snapshot.psv "$OUT/snapshot.psv"
expect_parts snap-dense.psv "$OUT/snap-dense"
expect_parts snap-sparse.psv "$OUT/snap-sparse"

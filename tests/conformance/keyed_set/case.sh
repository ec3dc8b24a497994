# keyed_set: a later factset's fact with the same key (a, b) and date replaces the earlier one.
ivory create-repository -z Australia/Sydney "$REPO"
ivory import-dictionary -r "$REPO" -p "$IN/dictionary.psv"
ivory ingest -i "sparse:delimited:psv|keyed_set=$IN/facts-v0"
ivory ingest -i "sparse:delimited:psv|keyed_set=$IN/facts-v1"
ivory snapshot -d 2014-04-02
ivory debug-dump-facts -s 00000000 -o "$OUT/snapshot.psv"
expect_parts snapshot.psv "$OUT/snapshot.psv"

# update writes the snapshot manifests that old releases left out: a snapshot with only a
# .snapmeta and one with only a .metadata.json both get a .manifest.json (§2.6).
# Upstream builds the repository with two old releases ($IVORY_V2: ingest and
# extract-snapshot, which writes .snapmeta; $IVORY_V3: ingest and snapshot, which writes
# .metadata.json); here our CLI builds it and lib/legacy.py sets it back to what they left.
legacy() { ${IVORY_PYTHON:-python3} "$CASE/../lib/legacy.py" "$@"; }
today=$(date +%Y-%m-%d)
ivory create-repository -z Australia/Sydney "$REPO"
ivory import-dictionary -r "$REPO" -p "$IN/dictionary.psv"
ivory ingest -r "$REPO" -z "Australia/Sydney" -i "sparse:delimited:psv=$IN/facts"
# Create a snapshot with .snapmeta
ivory snapshot -r "$REPO"
ivory ingest -i "sparse:delimited:psv=$IN/facts"
# Create a snapshot with .metadata.json
ivory snapshot
legacy "$REPO" v0 --snapmeta 00000000 "$today" 00000001 --metadata-json 00000001 "$today" 00000003

# LATEST
if ivory cat-dictionary; then echo "Do not pass go - upgrade was not required"; exit 1; fi
ivory update

# Just make sure we have all the relevant manifests that were previously missing
cat "$REPO/snapshots/00000000/.manifest.json"
cat "$REPO/snapshots/00000001/.manifest.json"

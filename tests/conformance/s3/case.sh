# S3: ingest from S3 inputs, snapshot and chord extracts to S3 (the repository is local).
# Needs AWS_TEST_BUCKET (and the standard AWS settings, e.g. AWS_ENDPOINT_URL for a local
# server); skipped, as upstream does, when it is not set.
s3sync() { ${IVORY_PYTHON:-python3} "$CASE/s3sync.py" "$@"; }
random() { echo "$(date '+%Y%m%d%H%M%S')-$$-$RANDOM"; }
ivory create-repository -z "Australia/Sydney" "$REPO"
ivory import-dictionary -p "$IN/dictionary.psv"
if [ -n "${AWS_TEST_BUCKET:-}" ]; then
  # INGEST
  S3_INGEST_1="s3://$AWS_TEST_BUCKET/tests/cli/$(random)"
  s3sync "$IN/facts-3" "$S3_INGEST_1"
  ivory ingest -i "sparse:delimited:psv=$S3_INGEST_1"
  ivory debug-dump-facts -r "$REPO" -f 00000000 > "$OUT/all-facts-s3.psv"
  expect_sorted all-s3-facts.psv "$OUT/all-facts-s3.psv"

  S3_INGEST_2="s3://$AWS_TEST_BUCKET/tests/cli/$(random)"
  s3sync "$IN/facts-4" "$S3_INGEST_2"
  ivory ingest -i "sparse:delimited:psv|HALIBUT=$S3_INGEST_2"
  ivory debug-dump-facts -r "$REPO" -f 00000001 > "$OUT/halibut-facts-s3.psv"
  expect_sorted halibut-s3-facts.psv "$OUT/halibut-facts-s3.psv"

  # EXTRACT
  S3_EXTRACT="s3://$AWS_TEST_BUCKET/tests/cli/$(random)"
  EXTRACT_SNAPSHOT="$OUT/snap-$(random)"
  EXTRACT_CHORD="$OUT/chord-$(random)"
  mkdir -p "$EXTRACT_SNAPSHOT" "$EXTRACT_CHORD"
  ivory snapshot -r "$REPO" -o "sparse:psv=$S3_EXTRACT/snapshot/snap-sparse"
  s3sync "$S3_EXTRACT/snapshot/snap-sparse" "$EXTRACT_SNAPSHOT"
  expect_parts snap-sparse.psv "$EXTRACT_SNAPSHOT"
  ivory chord -r "$REPO" -c "$IN/chord.psv" -o "sparse:psv=$S3_EXTRACT/chord/chord-sparse"
  s3sync "$S3_EXTRACT/chord/chord-sparse" "$EXTRACT_CHORD"
  expect_parts chord-sparse.psv "$EXTRACT_CHORD"
else
  echo "Skipping S3 test. AWS_TEST_BUCKET is not set."
fi

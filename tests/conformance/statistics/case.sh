# factset-statistics runs over an ingested factset (§11.6; upstream checks only the exit status).
ivory create-repository -z "Australia/Sydney" "$REPO"
ivory import-dictionary -p "$IN/dictionary.psv"
ivory ingest -i "sparse:delimited:psv=$IN/facts"
ivory factset-statistics -f "00000"

# Commits: every metadata change writes the next commit (dictionary, store, config ids) (§2.3).
commit_test() { expect_exact "$1" "$REPO/metadata/commits/$1"; }
ivory create-repository -z Australia/Sydney "$REPO"
commit_test 00000000
ivory import-dictionary -p "$IN/dictionary.psv"
commit_test 00000001
ivory ingest -i "sparse:delimited:psv|HALIBUT=$IN/facts"
commit_test 00000002
ivory import-dictionary -p "$IN/dictionary.psv"
commit_test 00000003

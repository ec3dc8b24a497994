/*
 * Stored metadata of an ivory repository, serialised with the Thrift compact protocol.
 *
 * ThriftDictionary is the value of the `dictionary` metadata key (D2.2, spec §2.4, §3.1);
 * ThriftManifest is the value of the `manifest` key (files, sizes and MD5s of a factset or
 * snapshot, D2.2, D5.3).
 *
 * Regenerate the Python code with `scripts/gen-thrift` after editing this file. Only add
 * fields with new ids (never renumber or reuse one) so that stored values stay readable.
 */

namespace py ivory.thrift.gen.dictionary

// ---------------------------------------------------------------------------------------
// Encodings (§3.2, §4.1)

enum ThriftPrimitiveEncoding {
  BOOLEAN = 1,
  INT = 2,
  LONG = 3,
  DOUBLE = 4,
  STRING = 5,
  DATE = 6
}

struct ThriftStructField {
  1: required string name;
  2: required ThriftPrimitiveEncoding encoding;
  /** The `*` marker of the text format. */
  3: required bool isOptional;
}

/** Fields in the dictionary's order (declaration order, or §4.5 rule 1 for >= 5 fields). */
struct ThriftStructEncoding {
  1: required list<ThriftStructField> fields;
}

/** Element of a list encoding: exactly one field is set (lists do not nest). */
union ThriftListElement {
  1: ThriftPrimitiveEncoding primitive;
  2: ThriftStructEncoding structEncoding;
}

/** Exactly one field is set. */
union ThriftEncoding {
  1: ThriftPrimitiveEncoding primitive;
  2: ThriftStructEncoding structEncoding;
  3: ThriftListElement listElement;
}

// ---------------------------------------------------------------------------------------
// Concrete definitions (§3.1, §4.1)

enum ThriftModeKind {
  STATE = 1,
  SET = 2,
  KEYED_SET = 3
}

struct ThriftMode {
  1: required ThriftModeKind kind;
  /** Key field names of a keyed_set, in the order given; empty otherwise. */
  2: required list<string> keys;
}

enum ThriftFeatureType {
  NUMERICAL = 1,
  CONTINUOUS = 2,
  CATEGORICAL = 3,
  BINARY = 4
}

struct ThriftConcreteDefinition {
  1: required ThriftEncoding encoding;
  2: required ThriftMode mode;
  3: optional ThriftFeatureType featureType;
  4: required string description;
  5: required list<string> tombstones;
}

// ---------------------------------------------------------------------------------------
// Virtual definitions (§3.1, §3.6, §3.7, §8.1)

enum ThriftWindowUnit {
  DAYS = 1,
  WEEKS = 2,
  MONTHS = 3,
  YEARS = 4
}

struct ThriftWindow {
  1: required i32 length;
  2: required ThriftWindowUnit unit;
}

struct ThriftVirtualDefinition {
  1: required string sourceNamespace;
  2: required string sourceName;
  /** The expression text exactly as imported (§3.6). */
  3: required string expression;
  /** The filter text exactly as imported (§3.7: stored and printed verbatim). */
  4: optional string filter;
  5: optional ThriftWindow window;
}

/** Exactly one field is set. */
union ThriftDefinitionBody {
  1: ThriftConcreteDefinition concreteDefinition;
  2: ThriftVirtualDefinition virtualDefinition;
}

struct ThriftDefinition {
  1: required string featureNamespace;
  2: required string featureName;
  3: required ThriftDefinitionBody body;
}

/** A dictionary: definitions in stored order (the order matters, §8.5). */
struct ThriftDictionary {
  /** Version of this encoding of the dictionary; currently 1. */
  1: required i32 formatVersion;
  2: required list<ThriftDefinition> definitions;
}

// ---------------------------------------------------------------------------------------
// Manifests of factsets and snapshots (D2.2, D5.3)

enum ThriftManifestKind {
  FACTSET = 1,
  SNAPSHOT = 2
}

struct ThriftManifestFile {
  /** Path relative to the factset or snapshot directory, `/`-separated. */
  1: required string path;
  /** Size in bytes. */
  2: required i64 size;
  /** MD5 of the content, 32 lower-case hexadecimal digits. */
  3: required string md5;
}

struct ThriftManifest {
  1: required ThriftManifestKind kind;
  /** The factset or snapshot id (8 lower-case hex digits, §1.1). */
  2: required string id;
  3: required list<ThriftManifestFile> files;
  4: required i64 factCount;
  /** Snapshot date, `yyyy-MM-dd`; unset for factsets. */
  5: optional string date;
  6: optional string storeVersion;
  7: optional string dictionaryVersion;
  8: optional string repositoryVersion;
}

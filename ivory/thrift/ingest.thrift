/*
 * Facts and extract rows exchanged as Thrift (compact protocol) inside Hadoop SequenceFiles
 * (NullWritable keys, BytesWritable values): the input of `ingest -i sparse:thrift=PATH`
 * (spec §5.5) and the rows of `dense:thrift` / `sparse:thrift` extracts (§9.4). Field ids
 * are those of upstream Ivory, so files interchange with it.
 *
 * Regenerate the Python code with `scripts/gen-thrift` after editing this file.
 */

namespace py ivory.thrift.gen.ingest

struct ThriftTombstone {}

// A primitive value; `date` is a `yyyy-MM-dd` string.
union ThriftFactPrimitiveValue {
  1: string s;
  2: i32 i;
  3: i64 l;
  4: double d;
  5: bool b;
  6: string date;
}

// A struct value: field name -> primitive.
struct ThriftFactStruct {
  1: map<string, ThriftFactPrimitiveValue> v;
}

union ThriftFactListValue {
  1: ThriftFactPrimitiveValue p;
  2: ThriftFactStruct s;
}

struct ThriftFactList {
  1: list<ThriftFactListValue> l;
}

union ThriftFactValue {
  1: ThriftFactPrimitiveValue primitive;
  2: ThriftFactStruct strct;
  3: ThriftFactList lst;
  4: ThriftTombstone tombstone;
}

// One ingest fact; `datetime` takes the text forms of §5.3.
struct ThriftFact {
  1: string entity;
  2: string attribute;
  3: ThriftFactValue value;
  4: string datetime;
}

// A dense extract row: one value per dictionary feature in feature-index order, a tombstone
// where the entity has none (§9.4).
struct ThriftFactDense {
  1: string entity;
  2: list<ThriftFactValue> value;
}

// A sparse extract row: "namespace:name" -> value, present non-tombstone values only (§9.4).
struct ThriftFactSparse {
  1: string entity;
  2: map<string, ThriftFactValue> value;
}

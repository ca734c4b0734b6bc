// Writing TensorFlow's `.index` table: the inverse of tf_table.hpp, built as TensorFlow's own
// TableBuilder does with the options BundleWriter gives it (tensorflow/core/lib/io/
// table_builder.cc, block_builder.cc, format.cc; tensor_bundle.cc BundleWriter::Finish):
//
//  - data blocks cut once their size estimate reaches 256 KiB (TableOptions::block_size), a
//    restart point every 16 keys; blocks stored uncompressed (BundleWriter asks for
//    kNoCompression: tables with snappy blocks were unreadable before TF 1.1);
//  - the index block has one entry per data block, restart interval 1, keyed by the shortest
//    separator between a block's last key and the next block's first (BytewiseComparator::
//    FindShortestSeparator; the last block: FindShortSuccessor);
//  - an empty metaindex block, then the 48-byte footer (two BlockHandles padded to 40 bytes,
//    the magic as two fixed32);
//  - each block followed by its type byte (0) and the masked CRC32C of contents + type.
//
// For the same entries the bytes are TensorFlow's: re-encoding the entries of a TF-written
// uncompressed index gives that index back (tests/unit/tf_table_writer_test.cpp).
#pragma once

#include <string>
#include <vector>

#include "detail/tf_table.hpp"

namespace keras64::detail::tf {

/// The whole table file for `entries`, whose keys must be strictly increasing (Error{internal}
/// otherwise: callers build them from a table that was read, or sort them first).
std::string build_table(const std::vector<TableEntry>& entries);

}  // namespace keras64::detail::tf

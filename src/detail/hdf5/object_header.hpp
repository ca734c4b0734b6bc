// Object headers (spec IV.A.1 "Data Object Headers"): version 1 (a 16-byte prefix, messages
// 8-byte aligned, continuation blocks of bare messages) and version 2 ("OHDR" and "OCHK" blocks,
// each with a lookup3 checksum). The result is the list of messages in header order.
#pragma once

#include <cstdint>
#include <vector>

#include "detail/hdf5/byte_source.hpp"

namespace keras64::detail::hdf5 {

enum MessageType : std::uint16_t {
  kNil = 0x00,
  kDataspace = 0x01,
  kLinkInfo = 0x02,
  kDatatype = 0x03,
  kFillValueOld = 0x04,
  kFillValue = 0x05,
  kLink = 0x06,
  kExternalFiles = 0x07,
  kLayout = 0x08,
  kBogus = 0x09,
  kGroupInfo = 0x0A,
  kFilterPipeline = 0x0B,
  kAttribute = 0x0C,
  kComment = 0x0D,
  kModTimeOld = 0x0E,
  kSharedTable = 0x0F,
  kContinuation = 0x10,
  kSymbolTable = 0x11,
  kModTime = 0x12,
  kBtreeK = 0x13,
  kDriverInfo = 0x14,
  kAttributeInfo = 0x15,
  kRefCount = 0x16,
};

struct Message {
  std::uint16_t type = 0;
  std::uint8_t flags = 0;
  const std::uint8_t* data = nullptr;  ///< into ObjectHeader::blocks
  std::size_t size = 0;
};

struct ObjectHeader {
  std::vector<std::vector<std::uint8_t>> blocks;  ///< owns the bytes messages point into
  std::vector<Message> messages;                  ///< NIL and continuation messages left out

  /// The first message of `type`, or nullptr.
  const Message* find(std::uint16_t type) const;
};

/// Reads the object header at `addr` with all its continuation blocks (at most 64 blocks, 4096
/// messages, 1 MiB per block; a block visited twice is a cycle). A message flagged "shared" is
/// Error{unsupported}; so is an unknown message type flagged "fail if unknown".
ObjectHeader read_object_header(const ByteSource& src, std::uint64_t addr);

}  // namespace keras64::detail::hdf5

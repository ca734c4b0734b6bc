// CRC32C (Castagnoli polynomial 0x1EDC6F41, reflected; initial value and final XOR 0xFFFFFFFF):
// the checksum of iSCSI, ext4, TensorFlow's checkpoints and Google's crc32c package. CRC32C of
// "123456789" is 0xE3069283. Computed by ISA-L's crc32_iscsi (SSE4.2 crc32 instructions, ~20 GB/s
// of CPU time on the reference VM), which leaves the initial value and the final XOR to the
// caller: these wrappers add them, and split lengths that do not fit its `int`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace keras64::detail {

/// The running state of an empty input.
constexpr std::uint32_t crc32c_initial() {
  return 0xFFFFFFFFu;
}
/// The state after `n` more bytes.
std::uint32_t crc32c_update(std::uint32_t state, const void* data, std::size_t n);
/// The CRC32C of the bytes fed to `state`.
constexpr std::uint32_t crc32c_final(std::uint32_t state) {
  return state ^ 0xFFFFFFFFu;
}
/// The CRC32C of one buffer.
std::uint32_t crc32c(const void* data, std::size_t n);

/// 8 lower-case hex digits ("e3069283"): how keras64's outputs record a CRC32C in text.
std::string crc_hex(std::uint32_t crc);
/// The value of such text, or false if `s` is not exactly 8 hex digits.
bool parse_crc_hex(const std::string& s, std::uint32_t& crc);

}  // namespace keras64::detail

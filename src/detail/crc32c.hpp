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

/// The CRC32C of the input that gave `crc` followed by n more bytes.
inline std::uint32_t crc32c_extend(std::uint32_t crc, const void* data, std::size_t n) {
  return crc32c_final(crc32c_update(crc ^ 0xFFFFFFFFu, data, n));
}

/// TensorFlow stores CRCs "masked" (tsl/lib/hash/crc32c.h): a CRC of data that itself holds CRCs
/// is weak, so the stored value is rotated and offset.
constexpr std::uint32_t crc32c_mask(std::uint32_t c) {
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}
constexpr std::uint32_t crc32c_unmask(std::uint32_t m) {
  return ((m - 0xa282ead8u) >> 17) | ((m - 0xa282ead8u) << 15);
}

/// 8 lower-case hex digits ("e3069283"): how keras64's outputs record a CRC32C in text.
std::string crc_hex(std::uint32_t crc);
/// The value of such text, or false if `s` is not exactly 8 hex digits.
bool parse_crc_hex(const std::string& s, std::uint32_t& crc);

}  // namespace keras64::detail

// v1 prefix: version(1)=1 reserved(1) message count(2) reference count(4) header size(4)
//            reserved(4); messages: type(2) size(2) flags(1) reserved(3) body (size, 8-aligned)
// v2 prefix: "OHDR" version(1)=2 flags(1) [times(16) if flags&0x20] [phase change(4) if
//            flags&0x10] chunk-0 size (1/2/4/8 bytes by flags&3); messages: type(1) size(2)
//            flags(1) [creation order(2) if flags&0x04] body; gap; checksum(4)
// Continuation message: offset(8) length(8); a v2 continuation block is "OCHK" messages checksum.
#include "detail/hdf5/object_header.hpp"

#include <algorithm>
#include <cstring>
#include <set>
#include <string>

#include "detail/hdf5/checksum.hpp"
#include "detail/hdf5/parse.hpp"

namespace keras64::detail::hdf5 {
namespace {

constexpr std::size_t kMaxBlocks = 64;
constexpr std::size_t kMaxMessages = 4096;
constexpr std::uint64_t kMaxBlockBytes = std::uint64_t{1} << 20;

struct Pending {
  std::uint64_t addr, size;
};

bool is_known(std::uint16_t type) {
  return type <= kRefCount;
}

class HeaderReader {
 public:
  HeaderReader(const ByteSource& src, ObjectHeader& out) : src_(src), out_(out) {}

  void add_message(std::uint16_t type, std::uint8_t flags, const std::uint8_t* data,
                   std::size_t size) {
    if (out_.messages.size() >= kMaxMessages) corrupt("object header: too many messages");
    if (flags & 0x02)
      unsupported("shared object header message (type " + std::to_string(type) + ")");
    if (!is_known(type) && (flags & 0x80))
      unsupported("object header message type " + std::to_string(type));
    if (type == kNil) return;
    if (type == kContinuation) {
      Cursor c(data, size, "continuation message");
      const std::uint64_t addr = c.u64();
      const std::uint64_t len = c.u64();
      pending_.push_back({addr, len});
      return;
    }
    out_.messages.push_back({type, flags, data, size});
  }

  std::vector<std::uint8_t>& block(std::uint64_t addr, std::uint64_t size) {
    if (out_.blocks.size() >= kMaxBlocks) corrupt("object header: too many continuation blocks");
    if (!seen_.insert(addr).second) corrupt("object header: continuation cycle");
    out_.blocks.push_back(src_.bytes(addr, size, kMaxBlockBytes, "object header block"));
    return out_.blocks.back();
  }

  void v1(std::uint64_t addr) {
    std::uint8_t prefix[16];
    src_.read(addr, prefix, sizeof prefix, "object header");
    Cursor c(prefix, sizeof prefix, "object header");
    c.skip(2);
    const unsigned count = c.u16();
    c.skip(4);
    const std::uint32_t size = c.u32();
    pending_.push_back({addr + 16, size});
    std::size_t total = 0;
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      const Pending p = pending_[i];
      const auto& b = block(p.addr, p.size);
      Cursor m(b.data(), b.size(), "object header message");
      while (m.remaining() >= 8) {
        const std::uint16_t type = m.u16();
        const std::uint16_t len = m.u16();
        const std::uint8_t flags = m.u8();
        m.skip(3);
        const std::uint8_t* body = m.take(len);
        m.skip(std::min<std::size_t>((8 - len % 8) % 8, m.remaining()));
        ++total;
        add_message(type, flags, body, len);
      }
    }
    // libhdf5 trusts neither count alone: more messages than declared is damage.
    if (total > count) corrupt("object header: more messages than its count");
  }

  void v2(std::uint64_t addr) {
    std::uint8_t prefix[4 + 1 + 1 + 16 + 4 + 8];
    const std::uint64_t have = std::min<std::uint64_t>(sizeof prefix, src_.size() - addr);
    src_.read(addr, prefix, static_cast<std::size_t>(have), "object header");
    Cursor c(prefix, static_cast<std::size_t>(have), "object header");
    c.skip(4);
    if (c.u8() != 2) corrupt("object header: unknown OHDR version");
    const std::uint8_t flags = c.u8();
    if (flags & 0xC0) corrupt("object header: reserved flags set");
    if (flags & 0x20) c.skip(16);
    if (flags & 0x10) c.skip(4);
    const std::uint64_t chunk0 = c.uint(std::size_t{1} << (flags & 3));
    const std::size_t prefix_len = c.offset_from(prefix);
    creation_order_ = flags & 0x04;
    // The first block is the prefix, the messages and a checksum over all of it.
    const auto& first = block(
        addr, checked_add(checked_add(prefix_len, chunk0, "object header"), 4, "object header"));
    verify_lookup3(first.data(), first.size() - 4, "object header");
    parse_v2_messages(first.data() + prefix_len, static_cast<std::size_t>(chunk0));
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      const Pending p = pending_[i];
      const auto& b = block(p.addr, p.size);
      if (b.size() < 8 || std::memcmp(b.data(), "OCHK", 4) != 0)
        corrupt("object header continuation block: bad signature");
      verify_lookup3(b.data(), b.size() - 4, "object header continuation block");
      parse_v2_messages(b.data() + 4, b.size() - 8);
    }
  }

 private:
  void parse_v2_messages(const std::uint8_t* p, std::size_t n) {
    Cursor m(p, n, "object header message");
    const std::size_t header = creation_order_ ? 6 : 4;
    while (m.remaining() >= header) {  // less is a gap
      const std::uint8_t type = m.u8();
      const std::uint16_t len = m.u16();
      const std::uint8_t flags = m.u8();
      if (creation_order_) m.skip(2);
      add_message(type, flags, m.take(len), len);
    }
  }

  const ByteSource& src_;
  ObjectHeader& out_;
  std::vector<Pending> pending_;
  std::set<std::uint64_t> seen_;
  bool creation_order_ = false;
};

}  // namespace

const Message* ObjectHeader::find(std::uint16_t type) const {
  for (const auto& m : messages)
    if (m.type == type) return &m;
  return nullptr;
}

ObjectHeader read_object_header(const ByteSource& src, std::uint64_t addr) {
  src.check_range(addr, 4, "object header");
  std::uint8_t sig[4];
  src.read(addr, sig, 4, "object header");
  ObjectHeader out;
  HeaderReader r(src, out);
  if (std::memcmp(sig, "OHDR", 4) == 0)
    r.v2(addr);
  else if (sig[0] == 1)
    r.v1(addr);
  else
    corrupt("object header at address " + std::to_string(addr) + ": unknown version " +
            std::to_string(sig[0]));
  return out;
}

}  // namespace keras64::detail::hdf5

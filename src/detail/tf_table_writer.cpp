#include "detail/tf_table_writer.hpp"

#include <cstdint>
#include <string_view>

#include "detail/crc32c.hpp"
#include "keras64/error.hpp"

namespace keras64::detail::tf {
namespace {

constexpr std::size_t kBlockSize = 262144;  // TableOptions::block_size
constexpr int kDataRestartInterval = 16;    // TableOptions::block_restart_interval
constexpr std::size_t kHandlesSize = 40;    // 2 * BlockHandle::kMaxEncodedLength
constexpr std::uint64_t kMagic = 0xdb4775248b80fb57ull;

void put_varint(std::string& dst, std::uint64_t v) {
  while (v >= 0x80) {
    dst += static_cast<char>(v | 0x80);
    v >>= 7;
  }
  dst += static_cast<char>(v);
}

void put_fixed32(std::string& dst, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) dst += static_cast<char>(v >> (8 * i));
}

// block_builder.cc: prefix-compressed entries, a restart point every `interval` keys.
class BlockBuilder {
 public:
  explicit BlockBuilder(int interval) : interval_(interval) {}

  void add(std::string_view key, std::string_view value) {
    std::size_t shared = 0;
    if (counter_ < interval_) {
      const std::size_t n = std::min(last_.size(), key.size());
      while (shared < n && last_[shared] == key[shared]) ++shared;
    } else {
      restarts_.push_back(static_cast<std::uint32_t>(buf_.size()));
      counter_ = 0;
    }
    put_varint(buf_, shared);
    put_varint(buf_, key.size() - shared);
    put_varint(buf_, value.size());
    buf_.append(key.substr(shared));
    buf_.append(value);
    last_.assign(key);
    ++counter_;
  }
  bool empty() const { return buf_.empty(); }
  std::size_t size_estimate() const { return buf_.size() + restarts_.size() * 4 + 4; }
  // The block's contents; the builder starts over.
  std::string finish() {
    std::string out = std::move(buf_);
    for (std::uint32_t r : restarts_) put_fixed32(out, r);
    put_fixed32(out, static_cast<std::uint32_t>(restarts_.size()));
    buf_.clear();
    restarts_.assign(1, 0);
    counter_ = 0;
    last_.clear();
    return out;
  }

 private:
  int interval_;
  std::string buf_;
  std::vector<std::uint32_t> restarts_{0};
  int counter_ = 0;
  std::string last_;
};

// BytewiseComparator (comparator.cc): a short key in [start, limit).
void shortest_separator(std::string& start, std::string_view limit) {
  const std::size_t n = std::min(start.size(), limit.size());
  std::size_t i = 0;
  while (i < n && start[i] == limit[i]) ++i;
  if (i >= n) return;  // one is a prefix of the other
  const auto b = static_cast<unsigned char>(start[i]);
  if (b < 0xff && b + 1 < static_cast<unsigned char>(limit[i])) {
    start[i] = static_cast<char>(b + 1);
    start.resize(i + 1);
  }
}

void short_successor(std::string& key) {
  for (std::size_t i = 0; i < key.size(); ++i)
    if (static_cast<unsigned char>(key[i]) != 0xff) {
      key[i] = static_cast<char>(static_cast<unsigned char>(key[i]) + 1);
      key.resize(i + 1);
      return;
    }
}

struct Handle {
  std::uint64_t offset = 0, size = 0;
  void encode(std::string& dst) const {
    put_varint(dst, offset);
    put_varint(dst, size);
  }
};

}  // namespace

std::string build_table(const std::vector<TableEntry>& entries) {
  std::string file;
  BlockBuilder data(kDataRestartInterval), index(1);
  // WriteRawBlock: contents, type 0 (uncompressed), masked CRC32C of both.
  auto write_block = [&](BlockBuilder& b) {
    const std::string contents = b.finish();
    Handle h{file.size(), contents.size()};
    file += contents;
    file += '\0';
    put_fixed32(file, crc32c_mask(crc32c(file.data() + h.offset, contents.size() + 1)));
    return h;
  };
  std::string last;
  bool pending = false;  // a data block was written and awaits its index entry
  Handle pending_handle;
  auto add_index_entry = [&](std::string& key) {
    std::string handle;
    pending_handle.encode(handle);
    index.add(key, handle);
    pending = false;
  };
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const TableEntry& e = entries[i];
    if (i > 0 && !(last < e.key))
      throw Error(Errc::internal, "build_table: keys are not strictly increasing");
    if (pending) {
      shortest_separator(last, e.key);
      add_index_entry(last);
    }
    last = e.key;
    data.add(e.key, e.value);
    if (data.size_estimate() >= kBlockSize) {
      pending_handle = write_block(data);
      pending = true;
    }
  }
  if (!data.empty()) {
    pending_handle = write_block(data);
    pending = true;
  }
  BlockBuilder meta(kDataRestartInterval);
  const Handle meta_handle = write_block(meta);
  if (pending) {
    short_successor(last);
    add_index_entry(last);
  }
  const Handle index_handle = write_block(index);
  std::string footer;
  meta_handle.encode(footer);
  index_handle.encode(footer);
  footer.resize(kHandlesSize, '\0');
  put_fixed32(footer, static_cast<std::uint32_t>(kMagic));
  put_fixed32(footer, static_cast<std::uint32_t>(kMagic >> 32));
  return file + footer;
}

}  // namespace keras64::detail::tf

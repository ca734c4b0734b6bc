// Local heap "HEAP": version(1)=0 reserved(3) data size(8) free-list offset(8) data address(8)
// Symbol table node "SNOD": version(1)=1 reserved(1) symbol count(2), then entries of 40 bytes:
//   link-name offset(8) object header(8) cache type(4) reserved(4) scratch pad(16)
#include "detail/hdf5/links.hpp"

#include <algorithm>
#include <cstring>

#include "detail/hdf5/btree_v1.hpp"
#include "detail/hdf5/btree_v2.hpp"
#include "detail/hdf5/fractal_heap.hpp"
#include "detail/hdf5/messages.hpp"
#include "detail/hdf5/parse.hpp"

namespace keras64::detail::hdf5 {
namespace {

constexpr std::size_t kMaxLinks = 1000000;
constexpr std::uint64_t kMaxLocalHeap = std::uint64_t{16} << 20;

std::vector<std::uint8_t> local_heap(const ByteSource& src, std::uint64_t addr) {
  const auto h = src.bytes(addr, 32, 32, "local heap");
  Cursor c(h.data(), h.size(), "local heap");
  if (std::memcmp(c.take(4), "HEAP", 4) != 0) corrupt("local heap: bad signature");
  if (c.u8() != 0) unsupported("local heap version");
  c.skip(3);
  const std::uint64_t size = c.u64();
  c.skip(8);
  // The data segment moves when it grows: follow its address, never assume it follows the header.
  return src.bytes(c.u64(), size, kMaxLocalHeap, "local heap data");
}

std::string heap_name(const std::vector<std::uint8_t>& heap, std::uint64_t off) {
  if (off >= heap.size()) corrupt("symbol table: name offset beyond the local heap");
  const auto* p = heap.data() + off;
  const auto* end = static_cast<const std::uint8_t*>(std::memchr(p, 0, heap.size() - off));
  if (!end) corrupt("symbol table: unterminated name in the local heap");
  if (end == p) corrupt("symbol table: empty name");
  return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(end - p));
}

void old_style(const ByteSource& src, const Superblock& sb, const Message& m,
               std::vector<Link>& out) {
  const SymbolTable st = parse_symbol_table(m.data, m.size);
  const auto heap = local_heap(src, st.heap);
  const unsigned max_symbols = 2 * sb.group_leaf_k;
  walk_btree_v1(src, st.btree, 0, 8, 2 * sb.group_internal_k,
                [&](const std::uint8_t*, std::uint64_t snod) {
                  const auto b = src.bytes(snod, 8 + 40 * std::uint64_t{max_symbols},
                                           std::uint64_t{1} << 20, "symbol table node");
                  Cursor c(b.data(), b.size(), "symbol table node");
                  if (std::memcmp(c.take(4), "SNOD", 4) != 0)
                    corrupt("symbol table node: bad signature");
                  if (c.u8() != 1) corrupt("symbol table node: unknown version");
                  c.skip(1);
                  const unsigned n = c.u16();
                  if (n > max_symbols) corrupt("symbol table node: too many symbols");
                  for (unsigned i = 0; i < n; ++i) {
                    const std::uint64_t name = c.u64();
                    const std::uint64_t addr = c.u64();
                    const std::uint32_t cache = c.u32();
                    c.skip(20);
                    if (cache > 2) corrupt("symbol table entry: unknown cache type");
                    // Cache type 2 is a soft link: its target is a path, never followed.
                    if (cache == 2) continue;
                    if (out.size() >= kMaxLinks) corrupt("group: too many links");
                    out.push_back({heap_name(heap, name), addr});
                  }
                });
}

void dense(const ByteSource& src, const LinkInfo& li, std::vector<Link>& out) {
  FractalHeap heap(src, li.heap);
  const std::size_t rec = walk_btree_v2(src, li.name_index, 5, [&](const std::uint8_t* r) {
    if (out.size() >= kMaxLinks) corrupt("group: too many links");
    const auto bytes = heap.object(r + 4);
    const LinkMessage l = parse_link(bytes.data(), bytes.size());
    if (l.hard) out.push_back({l.name, l.address});
  });
  if (rec != 4 + heap.id_length()) corrupt("group name index: record size does not match the heap");
}

}  // namespace

bool is_group(const ObjectHeader& oh) {
  return oh.find(kSymbolTable) || oh.find(kLinkInfo);
}

std::vector<Link> read_links(const ByteSource& src, const Superblock& sb, const ObjectHeader& oh) {
  std::vector<Link> out;
  if (const Message* st = oh.find(kSymbolTable)) {
    old_style(src, sb, *st, out);
  } else {
    for (const auto& m : oh.messages) {
      if (m.type != kLink) continue;
      if (out.size() >= kMaxLinks) corrupt("group: too many links");
      const LinkMessage l = parse_link(m.data, m.size);
      if (l.hard) out.push_back({l.name, l.address});
    }
    if (const Message* info = oh.find(kLinkInfo)) {
      const LinkInfo li = parse_link_info(info->data, info->size);
      if (li.heap != kUndefined) {
        if (li.name_index == kUndefined) corrupt("link info: dense links without a name index");
        dense(src, li, out);
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const Link& a, const Link& b) { return a.name < b.name; });
  for (std::size_t i = 1; i < out.size(); ++i)
    if (out[i].name == out[i - 1].name) corrupt("group: link name '" + out[i].name + "' twice");
  return out;
}

}  // namespace keras64::detail::hdf5

// keras64_tf_bundle_from IN PREFIX: writes the tensors of any input keras64 reads as a TensorFlow
// checkpoint of one shard (PREFIX.index + PREFIX.data-00000-of-00001), each tensor under its name
// as key, in its stored dtype, with valid CRCs; no object graph. For tests that need a TensorFlow
// input of any size (the fault tests' 48 MB one): the main suite cannot run TensorFlow, and
// computing tens of MB of CRC32C in pure Python takes minutes. Its output is read by keras64's
// own reader and compared with the arrays the input was made from.
#include <cstdio>
#include <fstream>
#include <map>
#include <vector>

#include "detail/crc32c.hpp"
#include "detail/tf_table_writer.hpp"
#include "keras64/error.hpp"
#include "keras64/source.hpp"
#include "tensor_bundle.pb.h"

using namespace keras64;

int main(int argc, char** argv) try {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s IN PREFIX\n", argv[0]);
    return 2;
  }
  auto src = open_source(argv[1]);
  const std::map<DType, int> tf_type = {{DType::f32, 1}, {DType::f64, 2},  {DType::i32, 3},
                                        {DType::i64, 9}, {DType::f16, 19}, {DType::bf16, 14}};
  std::ofstream data(std::string(argv[2]) + ".data-00000-of-00001", std::ios::binary);
  std::map<std::string, std::string> entries;  // key -> BundleEntryProto
  std::uint64_t offset = 0;
  std::vector<char> buf;
  for (std::size_t i = 0; i < src->tensors().size(); ++i) {
    const TensorInfo& t = src->tensors()[i];
    buf.resize(static_cast<std::size_t>(t.nbytes()));
    src->read(i, 0, t.elements(), buf.data());
    data.write(buf.data(), static_cast<std::streamsize>(buf.size()));
    keras64::tfproto::BundleEntryProto e;
    e.set_dtype(tf_type.at(t.dtype));
    for (auto d : t.shape) e.mutable_shape()->add_dim()->set_size(static_cast<std::int64_t>(d));
    e.set_offset(static_cast<std::int64_t>(offset));
    e.set_size(static_cast<std::int64_t>(buf.size()));
    e.set_crc32c(detail::crc32c_mask(detail::crc32c(buf.data(), buf.size())));
    e.SerializeToString(&entries[t.name]);
    offset += buf.size();
  }
  keras64::tfproto::BundleHeaderProto h;
  h.set_num_shards(1);
  h.mutable_version()->set_producer(1);
  std::vector<detail::tf::TableEntry> table{{"", h.SerializeAsString()}};
  for (auto& [k, v] : entries) table.push_back({k, v});
  std::ofstream(std::string(argv[2]) + ".index", std::ios::binary)
      << detail::tf::build_table(table);
  return data.good() ? 0 : 1;
} catch (const Error& e) {
  std::fprintf(stderr, "%s\n", e.what());
  return 1;
}

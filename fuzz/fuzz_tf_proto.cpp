// The protobuf layer of TensorFlow inputs: a TrackableObjectGraph, a SavedModel and the bundle's
// header/entry messages, decoded from any bytes; malformed ones throw keras64::Error (keras64's
// checks) or fail to parse (protobuf's), never crash. Walking a decoded graph terminates.
#include <string>

#include "fuzz.hpp"
#include "keras64/error.hpp"
#include "sources/tf_object_graph.hpp"
#include "tensor_bundle.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace keras64::detail::tf;
  const std::string in(reinterpret_cast<const char*>(data), size);
  try {
    const ObjectGraph g = ObjectGraph::parse(in);
    for (std::size_t i = 0; i < g.nodes.size(); ++i) g.variables_under(static_cast<int>(i));
  } catch (const keras64::Error&) {
  }
  try {
    parse_saved_model(in, "saved_model.pb");
  } catch (const keras64::Error&) {
  }
  keras64::tfproto::BundleEntryProto entry;
  (void)entry.ParseFromString(in);
  keras64::tfproto::BundleHeaderProto header;
  (void)header.ParseFromString(in);
  return 0;
}

// The config.json walk that gives get_weights() order: any JSON (or non-JSON) must give a layout
// or keras64::Error, whatever the nesting, types or sizes in it.
#include <nlohmann/json.hpp>

#include "fuzz.hpp"
#include "keras64/error.hpp"
#include "sources/keras3_layout.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  keras64::detail::WeightsTree empty;
  try {
    keras64::detail::keras3_layout(&j, empty, true);
  } catch (const keras64::Error&) {
  }
  return 0;
}

// Rewrites the dtype policies of a Keras model config (config.json of a `.keras`, the
// `model_config` attribute of a legacy .h5) so that the model loads with float variables of
// another float type - float64 for `convert --to keras`, any float type for `load --dtype`.
//
// Rules (docs/keras-formats.md §2, "What makes a model load and RUN as float64"):
//   - every serialized DTypePolicy (`{"class_name": "DTypePolicy" | "FloatDTypePolicy" |
//     "Policy", "config": {"name": P}}`) whose P is a float policy (float16, bfloat16, float32,
//     float64, mixed_float16, mixed_bfloat16) gets P = target, at any depth: nested models,
//     wrapped layers (Bidirectional, TimeDistributed), every `shared_object_id` occurrence;
//   - every plain-string `"dtype"` value that is a float type (InputLayer, preprocessing layers)
//     becomes the target; integer and bool dtypes are never touched;
//   - the float `"dtype"` of `__keras_tensor__` objects (inbound_nodes arguments of Functional
//     models) becomes the target too: Keras saves a float64 model with float64 symbolic tensors
//     (golden expected/reference_f64.keras), although loading does not need it;
//   - a quantized policy (other class names such as QuantizedDTypePolicy or DTypePolicyMap, or a
//     DTypePolicy named like "int8_from_float32") is Error{unsupported}.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace keras64::detail {

/// What a rewrite changed.
struct PolicyRewriteReport {
  std::size_t policies = 0;  ///< DTypePolicy dicts seen (every occurrence)
  std::size_t strings = 0;   ///< plain-string float dtypes seen
  std::size_t changed = 0;   ///< of those, how many had another value than the target
};

/// True for the float dtype / policy names the rewrite replaces ("float32", "mixed_bfloat16",
/// ...).
bool is_float_policy_name(std::string_view name) noexcept;

/// Rewrites `config` in place. `target` must be a plain float dtype name ("float64", "float32",
/// "float16", "bfloat16"; Error{invalid_argument} otherwise). `where` prefixes error messages
/// ("model.keras:config.json"). Throws Error{unsupported} for a quantized policy.
PolicyRewriteReport rewrite_policies(nlohmann::ordered_json& config, std::string_view target,
                                     std::string_view where);

/// The same on JSON text: parses (Error{corrupt} "<where>: invalid JSON: ..." if it is not JSON),
/// rewrites and serializes compactly, keeping key order.
std::string rewrite_policies(std::string_view config_json, std::string_view target,
                             std::string_view where, PolicyRewriteReport* report = nullptr);

}  // namespace keras64::detail

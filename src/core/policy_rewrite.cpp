// Dtype policy rewriting of Keras configs; rules in detail/policy_rewrite.hpp.
#include "detail/policy_rewrite.hpp"

#include <array>

#include "keras64/error.hpp"

namespace keras64::detail {
namespace {

using ojson = nlohmann::ordered_json;

constexpr std::array<std::string_view, 6> kFloatNames = {
    "float16", "bfloat16", "float32", "float64", "mixed_float16", "mixed_bfloat16"};
constexpr std::array<std::string_view, 4> kTargets = {"float16", "bfloat16", "float32", "float64"};
// Classes that serialize a plain (non-quantized) policy: Keras 3 and tf.keras 2 mixed precision.
constexpr std::array<std::string_view, 3> kPolicyClasses = {"DTypePolicy", "FloatDTypePolicy",
                                                            "Policy"};

template <std::size_t N>
bool one_of(const std::array<std::string_view, N>& set, std::string_view s) {
  for (auto v : set)
    if (v == s) return true;
  return false;
}

bool looks_like_policy_class(std::string_view c) {
  return c.find("DTypePolicy") != std::string_view::npos;
}

class Rewriter {
 public:
  Rewriter(std::string_view target, std::string_view where) : target_(target), where_(where) {}

  void walk(ojson& v, const std::string& path) {
    if (v.is_array()) {
      for (std::size_t i = 0; i < v.size(); ++i) walk(v[i], path + "/" + std::to_string(i));
      return;
    }
    if (!v.is_object()) return;
    if (const auto c = v.find("class_name"); c != v.end() && c->is_string()) {
      const std::string cls = c->get<std::string>();
      if (one_of(kPolicyClasses, cls)) {
        policy(v, path, cls);
        return;
      }
      if (looks_like_policy_class(cls))
        throw Error(Errc::unsupported, std::string(where_) + ": " + path +
                                           ": dtype policy class '" + cls +
                                           "' (quantized models are not supported)");
    }
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string sub = path + "/" + it.key();
      if (it.key() == "dtype" && it.value().is_string()) {
        const std::string name = it.value().get<std::string>();
        if (is_float_policy_name(name)) {
          ++report.strings;
          if (name != target_) {
            ++report.changed;
            it.value() = std::string(target_);
          }
        } else {
          refuse_quantized(name, sub);
        }
        continue;
      }
      walk(it.value(), sub);
    }
  }

  PolicyRewriteReport report;

 private:
  void refuse_quantized(const std::string& name, const std::string& path) const {
    // "int8_from_float32", "float8_from_mixed_bfloat16", "int4_from_float32", ...
    if (name.find("_from_") != std::string::npos)
      throw Error(Errc::unsupported, std::string(where_) + ": " + path +
                                         ": quantized dtype policy '" + name +
                                         "' is not supported");
  }

  void policy(ojson& v, const std::string& path, const std::string& cls) {
    auto cfg = v.find("config");
    if (cfg == v.end() || !cfg->is_object() || !cfg->contains("name") ||
        !(*cfg)["name"].is_string())
      throw Error(Errc::corrupt,
                  std::string(where_) + ": " + path + ": " + cls + " without a config name");
    ojson& name = (*cfg)["name"];
    const std::string n = name.get<std::string>();
    refuse_quantized(n, path);
    ++report.policies;
    if (!is_float_policy_name(n)) return;  // e.g. an int32 policy of a preprocessing layer
    if (n != target_) {
      ++report.changed;
      name = std::string(target_);
    }
  }

  std::string_view target_;
  std::string_view where_;
};

}  // namespace

bool is_float_policy_name(std::string_view name) noexcept {
  return one_of(kFloatNames, name);
}

PolicyRewriteReport rewrite_policies(nlohmann::ordered_json& config, std::string_view target,
                                     std::string_view where) {
  if (!one_of(kTargets, target))
    throw Error(Errc::invalid_argument,
                "dtype policy target must be float16, bfloat16, float32 or float64, not '" +
                    std::string(target) + "'");
  Rewriter r(target, where);
  r.walk(config, "");
  return r.report;
}

std::string rewrite_policies(std::string_view config_json, std::string_view target,
                             std::string_view where, PolicyRewriteReport* report) {
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(config_json);
  } catch (const nlohmann::json::exception& e) {
    throw Error(Errc::corrupt, std::string(where) + ": invalid JSON: " + e.what());
  }
  PolicyRewriteReport r = rewrite_policies(j, target, where);
  if (report) *report = r;
  // ASCII-only, as Python's json.dumps writes configs (legacy model_config is an ASCII attribute).
  return j.dump(-1, ' ', true);
}

}  // namespace keras64::detail

// JSON from files (config.json, metadata.json, manifests, indexes): parse errors become
// Error{corrupt} naming where the text came from.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "keras64/error.hpp"

namespace keras64::detail {

/// Parses `text`; on failure throws Error{corrupt} "invalid JSON: <parser message>" at `where`.
inline nlohmann::json parse_json(std::string_view text, const ErrorContext& where) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(Errc::corrupt, where, std::string("invalid JSON: ") + e.what());
  }
}

}  // namespace keras64::detail

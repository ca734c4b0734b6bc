// Text the tool prints that comes from files: names and messages may hold any bytes.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace keras64::cli {

/// `s` with every byte that is not part of valid, printable UTF-8 (control characters, broken
/// sequences) written as \xNN, so a hostile file name or tensor name cannot garble a terminal or
/// break a JSON encoder. Valid UTF-8 text is returned unchanged.
std::string printable(std::string_view s);

/// A double with all 17 significant digits ("%.17g"), so errors and tolerances print exactly.
std::string g17(double v);

/// JSON for stdout: indented, and invalid UTF-8 in strings replaced by U+FFFD instead of
/// throwing (nlohmann's default), since names come from files.
std::string json_text(const nlohmann::json& j);

}  // namespace keras64::cli

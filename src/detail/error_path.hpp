// Errors from File name the path it was opened with; outputs are written under a temporary name
// that users never see, so sinks rename the prefix to the path the user gave.
#pragma once

#include <string_view>

#include "keras64/error.hpp"

namespace keras64::detail {

/// `e` with a leading "<from>: " replaced by "<to>: ", or with "<to>: " prepended when its message
/// does not start with `from`. Code and errno are kept.
Error replace_context(const Error& e, std::string_view from, std::string_view to);

}  // namespace keras64::detail

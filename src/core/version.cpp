// keras64::version(): compiled into the library, so it reports the library that is linked in,
// whatever version.hpp a consumer was compiled with.
#include "keras64/version.hpp"

namespace keras64 {

const char* version() noexcept {
  return KERAS64_VERSION_STRING;
}

}  // namespace keras64

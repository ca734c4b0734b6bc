# Warning and sanitizer flags as INTERFACE targets (HighFive's pattern); not installed.
add_library(keras64_warnings INTERFACE)
target_compile_options(keras64_warnings INTERFACE
  -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual -Wpedantic -Wcast-align
  -Wformat=2 -Wimplicit-fallthrough
  $<$<BOOL:${KERAS64_WERROR}>:-Werror>)

add_library(keras64_sanitizers INTERFACE)
if(KERAS64_SANITIZER)
  string(REPLACE ";" "," _k64_san "${KERAS64_SANITIZER}")
  target_compile_options(keras64_sanitizers INTERFACE -fsanitize=${_k64_san} -fno-omit-frame-pointer
                         -fno-sanitize-recover=all)
  target_link_options(keras64_sanitizers INTERFACE -fsanitize=${_k64_san})
endif()

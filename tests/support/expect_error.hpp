// Checking the keras64::Error a call throws: its code and whole message, or the Error itself for
// finer checks. A call that throws nothing is a recorded test failure, never a silent pass.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "keras64/error.hpp"

namespace keras64::test {

/// The Error `f` throws. If it throws none, a test failure is recorded and Error{internal}
/// "no error" is returned, so the caller's own checks of code and message fail as well.
template <class F>
keras64::Error error_of(F&& f) {
  try {
    std::forward<F>(f)();
  } catch (const keras64::Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error";
  return keras64::Error(keras64::Errc::internal, "no error");
}

/// `f` throws Error{code} whose what() is exactly `message`.
template <class F>
void expect_error(F&& f, keras64::Errc code, const std::string& message) {
  const keras64::Error e = error_of(std::forward<F>(f));
  EXPECT_EQ(e.code(), code) << e.what();
  EXPECT_EQ(std::string(e.what()), message);
}

}  // namespace keras64::test

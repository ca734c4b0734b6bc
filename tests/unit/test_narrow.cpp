// narrow_from_f64 against an independent numpy oracle (narrow_oracle.py): every float16 and
// bfloat16 value, their exact midpoints and the float64 neighbours of those, random float64
// patterns across and beyond each range, NaN payloads, infinities, zeros, overflow thresholds.
// Result bits and every field of the rounding account must agree exactly.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "detail/file.hpp"
#include "detail/npy_format.hpp"
#include "keras64/narrow.hpp"

namespace fs = std::filesystem;
using keras64::DType;
using keras64::RoundingAccount;

namespace {

template <typename T>
std::vector<T> load_npy(const fs::path& p) {
  auto f = keras64::detail::File::open_read(p);
  const auto h = keras64::detail::read_npy_header(f);
  std::vector<T> v(static_cast<std::size_t>(h.nbytes / sizeof(T)));
  f.pread_all(v.data(), static_cast<std::size_t>(h.nbytes), h.data_offset);
  return v;
}

const fs::path& oracle_dir() {
  static const fs::path dir = [] {
    fs::path d =
        fs::temp_directory_path() / ("keras64_narrow_oracle_" + std::to_string(::getpid()));
    const std::string cmd =
        std::string(KERAS64_PYTHON) + " " +
        // Not __FILE__: ccache's base_dir makes it relative to the build.
        (fs::path(KERAS64_TEST_DATA).parent_path() / "unit" / "narrow_oracle.py").string() + " " +
        d.string();
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("oracle failed: " + cmd);
    static const fs::path keep = d;
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(keep, ec);
    });
    return d;
  }();
  return dir;
}

struct Case {
  const char* target;
  DType dtype;
};

class Narrow : public ::testing::TestWithParam<Case> {};

TEST_P(Narrow, BitsAndAccountMatchNumpy) {
  const Case c = GetParam();
  const auto accounts =
      nlohmann::json::parse(keras64::detail::read_text_file(oracle_dir() / "accounts.json"));
  for (const char* group : {"exact", "ties", "near_ties", "random", "normal", "specials"}) {
    const std::string key = std::string(c.target) + "_" + group;
    SCOPED_TRACE(key);
    const auto x = load_npy<double>(oracle_dir() / (key + "_x.npy"));
    RoundingAccount got;
    std::vector<std::uint32_t> bits(x.size());
    if (c.dtype == DType::f32) {
      const auto want = load_npy<std::uint32_t>(oracle_dir() / (key + "_bits.npy"));
      // In uneven pieces, to check that accounts merge across chunks.
      std::size_t done = 0;
      for (std::size_t step = 1; done < x.size(); step = step * 3 + 1) {
        const std::size_t n = std::min(step, x.size() - done);
        narrow_from_f64(x.data() + done, n, c.dtype, bits.data() + done, got);
        done += n;
      }
      for (std::size_t i = 0; i < x.size(); ++i)
        ASSERT_EQ(bits[i], want[i]) << "element " << i << " x=" << x[i];
    } else {
      const auto want = load_npy<std::uint16_t>(oracle_dir() / (key + "_bits.npy"));
      std::vector<std::uint16_t> b16(x.size());
      narrow_from_f64(x.data(), x.size(), c.dtype, b16.data(), got);
      for (std::size_t i = 0; i < x.size(); ++i)
        ASSERT_EQ(b16[i], want[i]) << "element " << i << " x=" << x[i];
    }
    const auto& a = accounts.at(key);
    EXPECT_EQ(got.values, a["values"].get<std::uint64_t>());
    EXPECT_EQ(got.changed, a["changed"].get<std::uint64_t>());
    EXPECT_EQ(got.max_abs_error, a["max_abs_error"].get<double>());
    EXPECT_EQ(got.max_rel_error, a["max_rel_error"].get<double>());
    EXPECT_EQ(got.max_ulp_error, a["max_ulp_error"].get<double>());
    EXPECT_EQ(got.overflows, a["overflows"].get<std::uint64_t>());
    EXPECT_EQ(got.subnormal, a["subnormal"].get<std::uint64_t>());
    EXPECT_EQ(got.to_zero, a["to_zero"].get<std::uint64_t>());
    EXPECT_EQ(got.nans, a["nans"].get<std::uint64_t>());
    EXPECT_EQ(got.infs, a["infs"].get<std::uint64_t>());
    EXPECT_EQ(got.exact(), std::string(group) == "exact");
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, Narrow,
                         ::testing::Values(Case{"float32", DType::f32}, Case{"float16", DType::f16},
                                           Case{"bfloat16", DType::bf16}),
                         [](const auto& p) { return std::string(p.param.target); });

TEST(NarrowIntegers, ExactIntegersInRangeOnly) {
  const double v[] = {0, 1, -128, 127, 2.5};
  std::int8_t out[5];
  EXPECT_EQ(keras64::integers_from_f64(v, 4, DType::i8, out), 4u);
  EXPECT_EQ(out[2], -128);
  EXPECT_EQ(keras64::integers_from_f64(v, 5, DType::i8, out), 4u);
  const double big[] = {128};
  EXPECT_EQ(keras64::integers_from_f64(big, 1, DType::i8, out), 0u);
  const double b[] = {0, 1, 2};
  EXPECT_EQ(keras64::integers_from_f64(b, 3, DType::boolean, out), 2u);
}

}  // namespace

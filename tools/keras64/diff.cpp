// keras64 diff A B: two weight sets compared value by value; exit 0 equal, 1 different.
#include "keras64/diff.hpp"

#include <cstdio>
#include <iostream>

#include "cli.hpp"
#include "text.hpp"

namespace keras64::cli {

Runner add_diff(CLI::App& app, Common& common) {
  struct Opts {
    std::string a, b, arch;
    double rtol = 0, atol = 0;
    std::uint64_t ulp = 0;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("A", o->a, "First weight set (any readable form)")->required();
  app.add_option("B", o->b, "Second weight set (any readable form)")->required();
  app.add_option("--model", o->arch, "A .keras giving bare weights files their architecture");
  app.add_option("--rtol", o->rtol, "Relative tolerance (|a-b| <= atol + rtol*|b|); default 0")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--atol", o->atol, "Absolute tolerance; default 0")->check(CLI::NonNegativeNumber);
  app.add_option("--ulp", o->ulp, "Values within this many float64 ULPs agree; default 0");
  return [o, &common]() {
    DiffOptions d;
    d.model = o->arch;
    d.rtol = o->rtol;
    d.atol = o->atol;
    d.ulp = o->ulp;
    const DiffReport r = diff(o->a, o->b, d);
    const bool eq = r.equal();
    if (common.json) {
      nlohmann::json j{{"ok", true},
                       {"equal", eq},
                       {"a", source_json(r.a)},
                       {"b", source_json(r.b)},
                       {"matched_by", r.by_name ? "name" : "position"},
                       {"only_a", r.only_a},
                       {"only_b", r.only_b},
                       {"tensors", nlohmann::json::array()}};
      for (const auto& t : r.tensors)
        j["tensors"].push_back({{"a",
                                 {{"index", t.index_a},
                                  {"name", t.name_a},
                                  {"dtype", info(t.dtype_a).name},
                                  {"shape", t.shape_a}}},
                                {"b",
                                 {{"index", t.index_b},
                                  {"name", t.name_b},
                                  {"dtype", info(t.dtype_b).name},
                                  {"shape", t.shape_b}}},
                                {"equal", t.ok()},
                                {"shape_differs", t.shape_differs},
                                {"elements", t.elements},
                                {"not_identical", t.not_identical},
                                {"out_of_tolerance", t.out_of_tolerance},
                                {"max_abs", t.max_abs},
                                {"max_rel", t.max_rel},
                                {"max_ulp", t.max_ulp}});
      std::cout << json_text(j) << "\n";
      return eq ? 0 : 1;
    }
    if (!common.quiet) {
      for (const auto& n : r.only_a) std::cout << "only in A: " << n << "\n";
      for (const auto& n : r.only_b) std::cout << "only in B: " << n << "\n";
      for (const auto& t : r.tensors) {
        const std::string name = t.name_a == t.name_b ? t.name_a : t.name_a + " / " + t.name_b;
        if (t.shape_differs)
          std::cout << name << ": shape " << shape_string(t.shape_a) << " vs "
                    << shape_string(t.shape_b) << "\n";
        else if (t.out_of_tolerance)
          std::cout << name << ": " << t.out_of_tolerance << " of " << t.elements
                    << " values differ (first at " << t.first_out << "): max abs " << g17(t.max_abs)
                    << ", max rel " << g17(t.max_rel) << ", max ulp " << t.max_ulp << "\n";
      }
      std::cout << r.tensors.size() << " tensors compared by " << (r.by_name ? "name" : "position")
                << ": " << (eq ? "equal" : "different") << "\n";
    }
    return eq ? 0 : 1;
  };
}

}  // namespace keras64::cli

// keras64 verify FILE: every checksum the file carries, checked; exit 0 intact, 4 damaged.
#include "keras64/verify.hpp"

#include <iostream>

#include "cli.hpp"
#include "text.hpp"

namespace keras64::cli {

Runner add_verify(CLI::App& app, Common& common) {
  auto file = std::make_shared<std::string>();
  app.add_option("FILE", *file, "Any file keras64 reads (its own outputs record checksums)")
      ->required();
  return [file, &common]() {
    VerifyOptions vo;
    vo.on_progress = make_progress(common);
    vo.cancel = &g_cancel;
    const VerifyReport r = verify(*file, vo);
    end_progress();
    if (common.json) {
      std::cout << json_text({{"ok", true},
                              {"source", source_json(r.source)},
                              {"verified", r.checked()},
                              {"checksums", r.kinds},
                              {"tensors", r.tensors},
                              {"tensors_checked", r.tensors_checked},
                              {"bytes_checked", r.bytes_checked},
                              {"zip_members", r.zip_members},
                              {"zip_bytes", r.zip_bytes},
                              {"unchecked", r.unchecked}})
                << "\n";
      return 0;
    }
    if (common.quiet) return 0;
    const std::string head =
        printable(r.source.file) + ": " + std::string(keras64::kind_name(r.source.kind)) + ": ";
    if (!r.checked()) {
      std::cout << head << "no checksums to verify (the file records none; " << r.tensors
                << " tensors unverified)\n";
      return 0;
    }
    std::string kinds;
    for (const auto& k : r.kinds) kinds += (kinds.empty() ? "" : ", ") + k;
    std::cout << head << "intact (" << kinds << ")\n";
    std::cout << "  tensors: " << r.tensors_checked << " of " << r.tensors << " covered";
    if (r.bytes_checked)
      std::cout << ", " << human_bytes(r.bytes_checked) << " read against per-tensor checksums";
    std::cout << "\n";
    if (r.zip_members)
      std::cout << "  zip: " << r.zip_members << " members, " << human_bytes(r.zip_bytes)
                << " checked against their CRC-32\n";
    if (!r.unchecked.empty())
      std::cout << "  not covered by any checksum: " << r.unchecked.size()
                << " tensors (first: " << printable(r.unchecked.front()) << ")\n";
    return 0;
  };
}

}  // namespace keras64::cli

// keras64 command-line tool: argument parsing and error reporting only; the work is in the
// library. Exit statuses: 0 ok, 1 differences found (diff), 2 bad arguments, 3 I/O error,
// 4 corrupt input, 5 unsupported input, 6 mismatch between inputs, 70 internal error,
// 130 interrupted.
#include <csignal>
#include <cstdio>
#include <iostream>

#include "cli.hpp"
#include "keras64/version.hpp"
#include "text.hpp"

namespace keras64::cli {
std::atomic<bool> g_cancel{false};
}

namespace {

void on_signal(int sig) {
  // First signal: ask the running conversion to stop and clean up. Second: die at once.
  keras64::cli::g_cancel.store(true);
  std::signal(sig, SIG_DFL);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace keras64;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  // Past a file-size limit (ulimit -f) a write should fail with EFBIG and be reported like a full
  // disk, not kill the process with SIGXFSZ and leave the temporary output behind.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{
      "keras64: save Keras models in 64-bit form (float64 weights), streaming in bounded memory"};
  app.set_version_flag("--version", std::string("keras64 ") + version());
  // Part of --help, so the generated man page (keras64.1) states them too.
  app.footer(
      "Exit status: 0 success; 1 diff: the inputs differ; 2 bad arguments, unknown format, "
      "output exists without --force; 3 I/O error; 4 corrupt input or a checksum mismatch; "
      "5 unsupported input; "
      "6 mismatch between inputs; 70 internal error; 130 interrupted (outputs were removed).");
  app.require_subcommand(1);
  cli::Common common;
  struct Entry {
    CLI::App* sub;
    cli::Runner run;
  };
  std::vector<Entry> commands;
  auto add = [&](const char* name, const char* help, cli::Runner (*fn)(CLI::App&, cli::Common&)) {
    CLI::App* sub = app.add_subcommand(name, help);
    sub->add_flag("--json", common.json, "Print a machine-readable JSON result on stdout");
    sub->add_flag("-q,--quiet", common.quiet, "No progress bar and no summary");
    commands.push_back({sub, fn(*sub, common)});
  };
  add("inspect", "List the tensors of a weights file in model.get_weights() order",
      cli::add_inspect);
  add("convert", "Write the weights as float64: npy, npz, npz-deflate, memmap, ...",
      cli::add_convert);
  add("load", "Put weights back into a model file, with the rounding account", cli::add_load);
  add("diff", "Compare two weight sets value by value (exit 0 equal, 1 different)", cli::add_diff);
  add("verify", "Check every checksum a file carries (exit 0 intact, 4 damaged)", cli::add_verify);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return e.get_exit_code() == 0 ? app.exit(e) : (app.exit(e), 2);
  }
  for (auto& c : commands) {
    if (!c.sub->parsed()) continue;
    try {
      return c.run();
    } catch (const Error& e) {
      cli::end_progress();
      const std::string msg = cli::printable(cli::error_text(e));
      std::cerr << "keras64: error: " << msg << "\n";
      if (common.json)
        std::cout << cli::json_text(nlohmann::json{
                         {"ok", false},
                         {"error", {{"code", errc_name(e.code())}, {"message", msg}}}})
                  << "\n";
      return cli::exit_code(e.code());
    } catch (const std::bad_alloc&) {
      cli::end_progress();
      std::cerr << "keras64: error: out of memory\n";
      return 70;
    } catch (const std::exception& e) {
      cli::end_progress();
      std::cerr << "keras64: internal error: " << cli::printable(e.what()) << "\n";
      return 70;
    }
  }
  return 2;
}

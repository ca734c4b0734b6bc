// Shared pieces of the keras64 command-line tool. The tool only calls the public keras64 API.
#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "keras64/convert.hpp"
#include "keras64/error.hpp"

namespace keras64::cli {

/// Options every command shares.
struct Common {
  bool json = false;   ///< machine-readable result on stdout
  bool quiet = false;  ///< no progress, no summary
};

/// A subcommand: registers its options on `app` and returns the function that runs it, which
/// returns the process exit status (errors are thrown as keras64::Error).
using Runner = std::function<int()>;
Runner add_inspect(CLI::App& app, Common& common);
Runner add_convert(CLI::App& app, Common& common);
Runner add_load(CLI::App& app, Common& common);    // load.cpp
Runner add_diff(CLI::App& app, Common& common);    // diff.cpp
Runner add_verify(CLI::App& app, Common& common);  // verify.cpp

/// The exit status for an error's code, as documented in the README and --help:
/// 2 invalid_argument, 3 io, 4 corrupt, 5 unsupported, 6 mismatch, 130 interrupted, 70 internal.
/// (0 is success, 1 "diff found differences".)
int exit_code(Errc code) noexcept;
/// The one-line text the tool prints for an error: what() and the hint in the tool's flag names.
std::string error_text(const Error& e);
/// SourceInfo::note with its order_hint in the tool's flag names.
std::string note_text(const SourceInfo& s);

/// Set by SIGINT/SIGTERM; long operations pass it as ConvertOptions::cancel.
extern std::atomic<bool> g_cancel;

/// A progress callback that draws a one-line bar on stderr when it is a terminal, or nothing.
std::function<void(const Progress&)> make_progress(const Common& common);
/// Clears the progress line, if one was drawn.
void end_progress();

std::string human_bytes(std::uint64_t n);
nlohmann::json tensor_json(const TensorInfo& t, std::size_t index);
nlohmann::json source_json(const SourceInfo& s);

}  // namespace keras64::cli

// A program outside keras64 that converts a model to float64 .npz through the public API alone:
//   consumer MODEL OUT.npz VERSION
// VERSION is the project version the test expects the headers and the library to report.
#include <cstring>
#include <iostream>
#include <keras64/convert.hpp>
#include <keras64/error.hpp>
#include <keras64/version.hpp>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: consumer MODEL OUT.npz VERSION\n";
    return 2;
  }
  if (std::strcmp(keras64::version(), KERAS64_VERSION_STRING) != 0 ||
      std::strcmp(keras64::version(), argv[3]) != 0) {
    std::cerr << "version: library " << keras64::version() << ", headers " << KERAS64_VERSION_STRING
              << ", expected " << argv[3] << "\n";
    return 1;
  }
  try {
    auto source = keras64::open_source(argv[1]);
    keras64::SinkOptions options;
    options.force = true;
    auto sink = keras64::open_sink("npz", argv[2], options);
    const keras64::ConvertReport report = keras64::convert(*source, *sink);
    std::cout << "keras64 " << keras64::version() << ": " << report.tensors.size() << " tensors, "
              << report.bytes_written << " bytes\n";
  } catch (const keras64::Error& e) {
    std::cerr << "consumer: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

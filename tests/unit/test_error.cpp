// keras64::Error: the fields, the one-line what() built from them, and adding context while an
// error propagates (include/keras64/error.hpp).
#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "detail/file.hpp"
#include "keras64/error.hpp"
#include "keras64/sink.hpp"
#include "scratch_dir.hpp"

using keras64::Errc;
using keras64::Error;
using keras64::Hint;

TEST(Error, WhatJoinsTheContextFromTheOutsideIn) {
  const Error e(Errc::mismatch, {"model.keras", "model.weights.h5", "/layers/dense/vars/0"},
                "shape mismatch: (10, 5) in file, (5, 10) in arch.keras");
  EXPECT_STREQ(e.what(),
               "model.keras:model.weights.h5:/layers/dense/vars/0: shape mismatch: (10, 5) in "
               "file, (5, 10) in arch.keras");
  EXPECT_EQ(e.code(), Errc::mismatch);
  EXPECT_EQ(e.file(), "model.keras");
  EXPECT_EQ(e.member(), "model.weights.h5");
  EXPECT_EQ(e.key(), "/layers/dense/vars/0");
  EXPECT_EQ(e.message(), "shape mismatch: (10, 5) in file, (5, 10) in arch.keras");
  EXPECT_EQ(e.hint(), Hint::none);
  EXPECT_EQ(e.sys_errno(), 0);
}

TEST(Error, AbsentPartsLeaveNoSeparators) {
  EXPECT_STREQ(Error(Errc::internal, "sink: begin() called twice").what(),
               "sink: begin() called twice");
  EXPECT_STREQ(Error(Errc::corrupt, {"w.npz"}, "not a valid zip archive").what(),
               "w.npz: not a valid zip archive");
  EXPECT_STREQ(Error(Errc::corrupt, {"ckpt", "", "dense/kernel"}, "bad").what(),
               "ckpt:dense/kernel: bad");
  EXPECT_STREQ(Error(Errc::corrupt, {"", "", "dense/kernel"}, "bad").what(), "dense/kernel: bad");
}

TEST(Error, WithinPutsTheOuterContextFirst) {
  // A reader's error without context gets the file and dataset it was reading.
  const Error inner(Errc::corrupt, "truncated object header");
  const Error e = inner.within({"m.keras", "model.weights.h5", "/layers/d/vars/0"});
  EXPECT_STREQ(e.what(), "m.keras:model.weights.h5:/layers/d/vars/0: truncated object header");
  EXPECT_EQ(e.message(), "truncated object header");
  // A key alone, then the file around it.
  const Error k =
      Error(Errc::corrupt, {"", "", "dense/kernel"}, "no slice holds element 3").within({"ckpt"});
  EXPECT_EQ(k.file(), "ckpt");
  EXPECT_EQ(k.member(), "");
  EXPECT_EQ(k.key(), "dense/kernel");
  // A file inside another: the inner file becomes a member of the outer one.
  const Error n = Error(Errc::io, {"ckpt.index"}, "cannot open: x", ENOENT).within({"ckpt"});
  EXPECT_EQ(n.file(), "ckpt");
  EXPECT_EQ(n.member(), "ckpt.index");
  EXPECT_EQ(n.sys_errno(), ENOENT);
  EXPECT_EQ(n.code(), Errc::io);
  // An error that already names the file is not located twice.
  const Error same = Error(Errc::corrupt, {"w.npz", "a.npy"}, "bad").within({"w.npz", "b.npy"});
  EXPECT_STREQ(same.what(), "w.npz:a.npy: bad");
}

TEST(Error, RenamedReplacesTheTemporaryName) {
  const Error e(Errc::io, {"out/.w.npz.tmp123"}, "write failed: No space left on device", ENOSPC);
  const Error r = e.renamed("out/.w.npz.tmp123", {"out/w.npz"});
  EXPECT_STREQ(r.what(), "out/w.npz: write failed: No space left on device");
  EXPECT_EQ(r.sys_errno(), ENOSPC);
  // Into a member of the output: the member goes before the error's own key.
  const Error h = Error(Errc::io, {"/tmp/w.h5", "", "/layers/d/vars/0"}, "cannot write")
                      .renamed("/tmp/w.h5", {"m.keras", "model.weights.h5"});
  EXPECT_STREQ(h.what(), "m.keras:model.weights.h5:/layers/d/vars/0: cannot write");
  // An error about another file (or none) is placed inside the new name instead.
  EXPECT_STREQ(Error(Errc::internal, "zip finished twice").renamed("t", {"o.npz"}).what(),
               "o.npz: zip finished twice");
}

TEST(Error, IoErrorKeepsErrnoAndNamesTheFile) {
  try {
    keras64::detail::File::open_read("/nonexistent/keras64/x.keras");
    ADD_FAILURE() << "opened a missing file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::io);
    EXPECT_EQ(e.sys_errno(), ENOENT);
    EXPECT_EQ(e.file(), "/nonexistent/keras64/x.keras");
    EXPECT_EQ(e.message(), "cannot open: No such file or directory");
    EXPECT_STREQ(e.what(), "/nonexistent/keras64/x.keras: cannot open: No such file or directory");
  }
}

TEST(Error, LibraryMessagesNameNoCliFlag) {
  keras64::test::ScratchDir dir;
  const auto out = dir.path() / "w.npz";
  keras64::test::write_file(out, "precious");
  try {
    keras64::open_sink("npz", out);
    ADD_FAILURE() << "an existing output was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    EXPECT_EQ(e.hint(), Hint::force);
    EXPECT_EQ(e.file(), out.string());
    EXPECT_EQ(e.message(), "output exists");
    EXPECT_EQ(std::string(e.what()).find("--"), std::string::npos) << e.what();
  }
}

// Parallel raw deflate, pigz's method: the stream is cut into independent blocks of kBlock bytes,
// worker threads compress each block to raw deflate that ends with a sync flush (byte-aligned,
// not final), the pieces are written out in order, and the stream ends with an empty final
// block. Concatenated, they are one valid deflate stream that any inflater (zlib, numpy's
// zipfile) reads. Blocks do not share history: a match cannot reach into the previous block,
// which costs well under 1% at this block size.
//
// Levels 1-3 (and the default) use ISA-L's igzip, which on float data runs an order of magnitude
// faster than zlib at about zlib -2 size; levels 0 and 4-9 use zlib. Memory is fixed: kSlots
// blocks in flight, each with its input and output buffer, plus the engines' state.
#include "detail/deflater.hpp"

#include <isa-l/igzip_lib.h>
#include <zlib.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "keras64/error.hpp"

namespace keras64::detail {
namespace {

constexpr std::size_t kBlock = std::size_t{1} << 20;
// Compressed bytes of one block: deflate expands incompressible data by 5 bytes per 16 KiB
// stored block; flush markers and Huffman headers need a little more.
constexpr std::size_t kOutBound = kBlock + (kBlock >> 8) + 4096;

// One compressor per worker thread.
class Engine {
 public:
  virtual ~Engine() = default;
  /// Compresses [in, in + n) to out as non-final raw deflate ending with a sync flush; returns
  /// the compressed size (at most kOutBound).
  virtual std::size_t compress(const unsigned char* in, std::size_t n, unsigned char* out) = 0;
};

class IsalEngine final : public Engine {
 public:
  explicit IsalEngine(int level) : level_(static_cast<std::uint32_t>(level)) {
    static constexpr std::size_t kLevelBuf[] = {ISAL_DEF_LVL0_DEFAULT, ISAL_DEF_LVL1_DEFAULT,
                                                ISAL_DEF_LVL2_DEFAULT, ISAL_DEF_LVL3_DEFAULT};
    level_buf_.resize(kLevelBuf[level_]);
  }
  std::size_t compress(const unsigned char* in, std::size_t n, unsigned char* out) override {
    isal_zstream s;
    isal_deflate_init(&s);
    s.level = level_;
    s.level_buf = level_buf_.empty() ? nullptr : level_buf_.data();
    s.level_buf_size = static_cast<std::uint32_t>(level_buf_.size());
    s.gzip_flag = IGZIP_DEFLATE;
    s.flush = SYNC_FLUSH;
    s.end_of_stream = 0;
    s.next_in = const_cast<unsigned char*>(in);  // ISA-L's API is not const-correct
    s.avail_in = static_cast<std::uint32_t>(n);
    s.next_out = out;
    s.avail_out = static_cast<std::uint32_t>(kOutBound);
    const int rc = isal_deflate(&s);
    if (rc != COMP_OK || s.avail_in != 0 || s.avail_out == 0)
      throw Error(Errc::internal, "deflate (ISA-L) failed: code " + std::to_string(rc));
    return kOutBound - s.avail_out;
  }

 private:
  std::uint32_t level_;
  std::vector<unsigned char> level_buf_;
};

class ZlibEngine final : public Engine {
 public:
  explicit ZlibEngine(int level) {
    // windowBits -15: raw deflate; memLevel 8 and the default strategy match Python's zipfile.
    if (deflateInit2(&zs_, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      throw Error(Errc::internal,
                  "deflate: cannot initialise zlib (level " + std::to_string(level) + ")");
  }
  ~ZlibEngine() override { deflateEnd(&zs_); }
  std::size_t compress(const unsigned char* in, std::size_t n, unsigned char* out) override {
    deflateReset(&zs_);
    zs_.next_in = const_cast<Bytef*>(in);  // zlib's API is not const-correct
    zs_.avail_in = static_cast<uInt>(n);
    zs_.next_out = out;
    zs_.avail_out = static_cast<uInt>(kOutBound);
    const int rc = deflate(&zs_, Z_SYNC_FLUSH);
    if (rc != Z_OK || zs_.avail_in != 0 || zs_.avail_out == 0)
      throw Error(Errc::internal,
                  std::string("deflate failed: ") + (zs_.msg ? zs_.msg : "stream error"));
    return kOutBound - zs_.avail_out;
  }

 private:
  z_stream zs_{};
};

std::unique_ptr<Engine> make_engine(int level) {
  if (level < 0) level = 1;
  if (level >= 1 && level <= 3) return std::make_unique<IsalEngine>(level);
  return std::make_unique<ZlibEngine>(level);
}

class ParallelDeflater final : public Deflater {
 public:
  ParallelDeflater(int level, unsigned threads, Output out) : out_(std::move(out)) {
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    threads = std::min(threads, 16u);
    slots_.resize(threads + 2);
    for (auto& s : slots_) {
      s.in.reset(new unsigned char[kBlock]);
      s.out.reset(new unsigned char[kOutBound]);
    }
    engines_.reserve(threads);
    for (unsigned i = 0; i < threads; ++i) engines_.push_back(make_engine(level));
    for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this, i] { work(*engines_[i]); });
  }

  ~ParallelDeflater() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    work_cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  void write(const void* data, std::size_t n) override {
    const auto* p = static_cast<const unsigned char*>(data);
    while (n > 0) {
      Slot& s = slots_[fill_];
      const std::size_t take = std::min(n, kBlock - s.n);
      std::memcpy(s.in.get() + s.n, p, take);
      s.n += take;
      p += take;
      n -= take;
      if (s.n == kBlock) submit();
    }
  }

  void finish() override {
    if (slots_[fill_].n > 0) submit();
    while (emitted_ < submitted_) emit_oldest();
    static const unsigned char kFinal[2] = {0x03, 0x00};  // empty final block, fixed Huffman
    out_(kFinal, sizeof kFinal);
  }

 private:
  struct Slot {
    std::unique_ptr<unsigned char[]> in, out;
    std::size_t n = 0;      // input bytes
    std::size_t csize = 0;  // output bytes, when done
    bool done = false;
    std::exception_ptr error;
  };

  // Hands the filling slot to the workers and makes the next slot the filling one, first
  // emitting its previous block if it still holds one.
  void submit() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(fill_);
    }
    work_cv_.notify_one();
    ++submitted_;
    fill_ = (fill_ + 1) % slots_.size();
    if (submitted_ - emitted_ == slots_.size()) emit_oldest();
  }

  void emit_oldest() {
    const std::size_t i = emitted_ % slots_.size();
    Slot& s = slots_[i];
    {
      std::unique_lock<std::mutex> lock(mu_);
      done_cv_.wait(lock, [&] { return s.done; });
    }
    ++emitted_;
    if (s.error) std::rethrow_exception(s.error);
    if (s.csize) out_(s.out.get(), s.csize);
    s.n = 0;
    s.csize = 0;
    s.done = false;
  }

  void work(Engine& engine) {
    for (;;) {
      std::size_t i;
      {
        std::unique_lock<std::mutex> lock(mu_);
        work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        i = queue_.front();
        queue_.pop_front();
      }
      Slot& s = slots_[i];
      std::size_t csize = 0;
      std::exception_ptr error;
      try {
        csize = engine.compress(s.in.get(), s.n, s.out.get());
      } catch (...) {
        error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        s.csize = csize;
        s.error = error;
        s.done = true;
      }
      done_cv_.notify_all();
    }
  }

  Output out_;
  std::vector<Slot> slots_;
  std::vector<std::unique_ptr<Engine>> engines_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<std::size_t> queue_;
  bool stop_ = false;
  std::size_t fill_ = 0;         // slot being filled by write()
  std::uint64_t submitted_ = 0;  // blocks handed to workers
  std::uint64_t emitted_ = 0;    // blocks written out, in order
};

}  // namespace

std::unique_ptr<Deflater> make_deflater(int level, unsigned threads, Deflater::Output out) {
  if (level < -1 || level > 9)
    throw Error(Errc::invalid_argument, "deflate level " + std::to_string(level) +
                                            " is out of range (0-9, or -1 for the default)");
  return std::make_unique<ParallelDeflater>(level, threads, std::move(out));
}

}  // namespace keras64::detail

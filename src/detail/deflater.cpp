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
#include <system_error>
#include <thread>
#include <utility>
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
  /// Compresses [in, in + n) (n <= kBlock) to out (kOutBound bytes); returns the compressed size.
  virtual std::size_t compress(const unsigned char* in, std::size_t n, unsigned char* out) = 0;
};

// What one block becomes: a piece of one raw deflate stream (non-final, ending with a sync flush,
// for ParallelDeflater), or a complete zlib stream (header, final block, Adler-32: HDF5 chunks).
enum class Framing { raw_sync, zlib };

class IsalEngine final : public Engine {
 public:
  IsalEngine(int level, Framing framing)
      : level_(static_cast<std::uint32_t>(level)), framing_(framing) {
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
    if (framing_ == Framing::zlib) {
      s.gzip_flag = IGZIP_ZLIB;
      s.flush = NO_FLUSH;
      s.end_of_stream = 1;
    } else {
      s.gzip_flag = IGZIP_DEFLATE;
      s.flush = SYNC_FLUSH;
      s.end_of_stream = 0;
    }
    s.next_in = const_cast<unsigned char*>(in);  // ISA-L's API is not const-correct
    s.avail_in = static_cast<std::uint32_t>(n);
    s.next_out = out;
    s.avail_out = static_cast<std::uint32_t>(kOutBound);
    const int rc = isal_deflate(&s);
    const bool complete =
        framing_ == Framing::zlib ? s.internal_state.state == ZSTATE_END : s.avail_out != 0;
    if (rc != COMP_OK || s.avail_in != 0 || !complete)
      throw Error(Errc::internal, "deflate (ISA-L) failed: code " + std::to_string(rc));
    return kOutBound - s.avail_out;
  }

 private:
  std::uint32_t level_;
  Framing framing_;
  std::vector<unsigned char> level_buf_;
};

class ZlibEngine final : public Engine {
 public:
  ZlibEngine(int level, Framing framing) : framing_(framing) {
    // windowBits -15: raw deflate, 15: zlib wrapper; memLevel 8 and the default strategy match
    // Python's zipfile and HDF5's deflate filter.
    if (deflateInit2(&zs_, level, Z_DEFLATED, framing == Framing::zlib ? 15 : -15, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
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
    const bool whole = framing_ == Framing::zlib;
    const int rc = deflate(&zs_, whole ? Z_FINISH : Z_SYNC_FLUSH);
    if (rc != (whole ? Z_STREAM_END : Z_OK) || zs_.avail_in != 0 || (!whole && zs_.avail_out == 0))
      throw Error(Errc::internal,
                  std::string("deflate failed: ") + (zs_.msg ? zs_.msg : "stream error"));
    return kOutBound - zs_.avail_out;
  }

 private:
  Framing framing_;
  z_stream zs_{};
};

std::unique_ptr<Engine> make_engine(int level, Framing framing) {
  if (level < 0) level = 1;
  if (level >= 1 && level <= 3) return std::make_unique<IsalEngine>(level, framing);
  return std::make_unique<ZlibEngine>(level, framing);
}

void check_level(int level) {
  if (level < -1 || level > 9)
    throw Error(Errc::invalid_argument, "deflate level " + std::to_string(level) +
                                            " is out of range (0-9, or -1 for the default)");
}

// HDF5's shuffle filter: byte k of every element goes to plane k; a tail shorter than an
// element stays where it is.
void shuffle(const unsigned char* in, std::size_t n, std::size_t size, unsigned char* out) {
  const std::size_t count = n / size;
  for (std::size_t k = 0; k < size; ++k) {
    unsigned char* plane = out + k * count;
    const unsigned char* src = in + k;
    for (std::size_t i = 0; i < count; ++i) plane[i] = src[i * size];
  }
  std::memcpy(out + count * size, in + count * size, n - count * size);
}

}  // namespace

// Blocks of up to kBlock bytes compressed independently on worker threads and delivered on the
// caller's thread in submission order. Memory is fixed: threads + 2 slots, each with its input
// and output buffer, plus one shuffle buffer per worker.
class BlockPool {
 public:
  using Output = std::function<void(std::uint64_t tag, const unsigned char* data, std::size_t n)>;

  BlockPool(int level, Framing framing, unsigned threads, Output out) : out_(std::move(out)) {
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    threads = std::min(threads, 16u);
    slots_.resize(threads + 2);
    for (auto& s : slots_) {
      s.in.reset(new unsigned char[kBlock]);
      s.out.reset(new unsigned char[kOutBound]);
    }
    engines_.reserve(threads);
    for (unsigned i = 0; i < threads; ++i) engines_.push_back(make_engine(level, framing));
    for (unsigned i = 0; i < threads; ++i) {
      try {
        workers_.emplace_back([this, i] { work(*engines_[i]); });
      } catch (const std::system_error&) {
        break;  // out of threads (EAGAIN): fewer workers, or none (submit() then compresses)
      }
    }
  }

  ~BlockPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    work_cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  /// The filling block: kBlock bytes of buffer, `used` of them filled so far.
  unsigned char* buffer() { return slots_[fill_].in.get(); }
  std::size_t& used() { return slots_[fill_].n; }

  /// Hands the filling block (its used() bytes, shuffled by `shuffle` bytes when > 1) to the
  /// workers as `tag`, and makes the next slot the filling one, first delivering its previous
  /// block if it still holds one.
  void submit(std::uint64_t tag, std::size_t shuffle = 0) {
    slots_[fill_].tag = tag;
    slots_[fill_].shuffle = shuffle;
    if (workers_.empty()) {
      compress(*engines_.front(), slots_[fill_], shuffled_);  // no worker could be started
    } else {
      {
        std::lock_guard<std::mutex> lock(mu_);
        queue_.push_back(fill_);
      }
      work_cv_.notify_one();
    }
    ++submitted_;
    fill_ = (fill_ + 1) % slots_.size();
    if (submitted_ - emitted_ == slots_.size()) emit_oldest();
  }

  /// Delivers every submitted block.
  void drain() {
    while (emitted_ < submitted_) emit_oldest();
  }

 private:
  struct Slot {
    std::unique_ptr<unsigned char[]> in, out;
    std::size_t n = 0;      // input bytes
    std::size_t csize = 0;  // output bytes, when done
    std::uint64_t tag = 0;
    std::size_t shuffle = 0;
    bool done = false;
    std::exception_ptr error;
  };

  void emit_oldest() {
    const std::size_t i = emitted_ % slots_.size();
    Slot& s = slots_[i];
    {
      std::unique_lock<std::mutex> lock(mu_);
      done_cv_.wait(lock, [&] { return s.done; });
    }
    ++emitted_;
    const std::size_t csize = s.csize;
    s.n = 0;
    s.csize = 0;
    s.done = false;
    if (s.error) std::rethrow_exception(std::exchange(s.error, nullptr));
    out_(s.tag, s.out.get(), csize);
  }

  void work(Engine& engine) {
    std::unique_ptr<unsigned char[]> shuffled;
    for (;;) {
      std::size_t i;
      {
        std::unique_lock<std::mutex> lock(mu_);
        work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        i = queue_.front();
        queue_.pop_front();
      }
      compress(engine, slots_[i], shuffled);
    }
  }

  // Compresses slot `s` (shuffling through `shuffled`, allocated on first use) and marks it done.
  void compress(Engine& engine, Slot& s, std::unique_ptr<unsigned char[]>& shuffled) {
    std::size_t csize = 0;
    std::exception_ptr error;
    try {
      const unsigned char* in = s.in.get();
      if (s.shuffle > 1) {
        if (!shuffled) shuffled.reset(new unsigned char[kBlock]);
        shuffle(in, s.n, s.shuffle, shuffled.get());
        in = shuffled.get();
      }
      csize = engine.compress(in, s.n, s.out.get());
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

  Output out_;
  std::vector<Slot> slots_;
  std::vector<std::unique_ptr<Engine>> engines_;
  std::vector<std::thread> workers_;
  std::unique_ptr<unsigned char[]> shuffled_;  // submit()'s, when no worker could be started
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<std::size_t> queue_;
  bool stop_ = false;
  std::size_t fill_ = 0;         // slot being filled
  std::uint64_t submitted_ = 0;  // blocks handed to workers
  std::uint64_t emitted_ = 0;    // blocks delivered, in order
};

namespace {

class ParallelDeflater final : public Deflater {
 public:
  ParallelDeflater(int level, unsigned threads, Output out)
      : out_(std::move(out)),
        pool_(level, Framing::raw_sync, threads,
              [this](std::uint64_t, const unsigned char* p, std::size_t n) {
                if (n) out_(p, n);
              }) {}

  void write(const void* data, std::size_t n) override {
    const auto* p = static_cast<const unsigned char*>(data);
    while (n > 0) {
      std::size_t& used = pool_.used();
      const std::size_t take = std::min(n, kBlock - used);
      std::memcpy(pool_.buffer() + used, p, take);
      used += take;
      p += take;
      n -= take;
      if (used == kBlock) pool_.submit(0);
    }
  }

  void finish() override {
    if (pool_.used() > 0) pool_.submit(0);
    pool_.drain();
    static const unsigned char kFinal[2] = {0x03, 0x00};  // empty final block, fixed Huffman
    out_(kFinal, sizeof kFinal);
  }

 private:
  Output out_;
  BlockPool pool_;
};

}  // namespace

std::unique_ptr<Deflater> make_deflater(int level, unsigned threads, Deflater::Output out) {
  check_level(level);
  return std::make_unique<ParallelDeflater>(level, threads, std::move(out));
}

ChunkDeflater::ChunkDeflater(int level, unsigned threads, Output out) {
  check_level(level);
  pool_ =
      std::make_unique<BlockPool>(level, Framing::zlib, threads,
                                  [out = std::move(out)](std::uint64_t tag, const unsigned char* p,
                                                         std::size_t n) { out(tag, p, n); });
}

ChunkDeflater::~ChunkDeflater() = default;

unsigned char* ChunkDeflater::buffer() {
  return pool_->buffer();
}

void ChunkDeflater::submit(std::size_t n, std::size_t shuffle, std::uint64_t tag) {
  if (n > kMaxChunk)
    throw Error(Errc::internal, "chunk of " + std::to_string(n) + " bytes is over the limit");
  pool_->used() = n;
  pool_->submit(tag, shuffle);
}

void ChunkDeflater::finish() {
  pool_->drain();
}

}  // namespace keras64::detail

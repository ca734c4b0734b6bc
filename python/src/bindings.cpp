// _keras64: the C++ half of the Python module (the public API is python/keras64/__init__.py).
//
// It only calls the public C++ API. Its jobs: turn arguments into keras64 calls, release the GIL
// around every call that does I/O, serve numpy arrays to convert() as a Source without copying
// them, and turn keras64::Error into the Python exception its code names (docs/design.md).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "keras64/convert.hpp"
#include "keras64/diff.hpp"
#include "keras64/error.hpp"
#include "keras64/load.hpp"
#include "keras64/narrow.hpp"
#include "keras64/sink.hpp"
#include "keras64/source.hpp"
#include "keras64/tensor.hpp"
#include "keras64/verify.hpp"
#include "keras64/version.hpp"

namespace py = pybind11;
using keras64::DType;
using keras64::Errc;
using keras64::Error;

namespace {

PyObject* g_format_error = nullptr;
PyObject* g_mismatch_error = nullptr;

// ---- errors -------------------------------------------------------------------------------

// The hint in Python's terms: the parameters of keras64's functions (the library's messages
// name neither CLI flags nor parameters; style.md section 6).
std::string python_hint(keras64::Hint h) {
  switch (h) {
    case keras64::Hint::force:
      return " (pass force=True to replace it)";
    case keras64::Hint::model:
      return " (pass model=ARCH.keras)";
    case keras64::Hint::none:
      break;
  }
  return "";
}

// Sets the Python exception for `e` (style.md section 6): its class from the code, its text
// what() and the hint, and the fields as attributes: code ("corrupt", ...), file, member, key
// and message (None when empty). OSError also gets errno and filename (the file).
void set_error(const Error& e) {
  const std::string msg = e.what() + python_hint(e.hint());
  auto cls = [](PyObject* type) { return py::reinterpret_borrow<py::object>(type); };
  py::object exc;
  switch (e.code()) {
    case Errc::io:
      // OSError(errno, strerror, filename) picks the subclass (FileNotFoundError, ...).
      if (e.sys_errno() == 0)
        exc = cls(PyExc_OSError)(msg);
      else if (e.file().empty())
        exc = cls(PyExc_OSError)(e.sys_errno(), msg);
      else
        exc = cls(PyExc_OSError)(e.sys_errno(), msg, e.file());
      break;
    case Errc::corrupt:
      exc = cls(g_format_error)(msg);
      break;
    case Errc::unsupported:
      exc = cls(PyExc_NotImplementedError)(msg);
      break;
    case Errc::invalid_argument:
      exc = cls(PyExc_ValueError)(msg);
      break;
    case Errc::mismatch:
      exc = cls(g_mismatch_error)(msg);
      break;
    case Errc::interrupted:
      exc = cls(PyExc_KeyboardInterrupt)(msg);
      break;
    case Errc::internal:
    default:
      exc = cls(PyExc_RuntimeError)(msg);
      break;
  }
  auto field = [](const std::string& v) { return v.empty() ? py::none() : py::object(py::str(v)); };
  exc.attr("code") = std::string(keras64::errc_name(e.code()));
  exc.attr("file") = field(e.file());
  exc.attr("member") = field(e.member());
  exc.attr("key") = field(e.key());
  exc.attr("message") = e.message();
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
}

[[noreturn]] void raise(const Error& e) {
  set_error(e);
  throw py::error_already_set();
}

// ---- progress, Ctrl-C and exceptions from the callback --------------------------------------

// Runs on the converting thread without the GIL. Every chunk it may take the GIL to call the
// user's progress callback and to let Python run its signal handlers (Ctrl-C). A Python
// exception raised there is kept, the conversion is cancelled (so nothing is committed), and the
// exception is re-raised once the GIL is back.
class Bridge {
 public:
  explicit Bridge(py::object callback) : callback_(std::move(callback)) {
    auto threading = py::module_::import("threading");
    on_main_thread_ =
        threading.attr("get_ident")().equal(threading.attr("main_thread")().attr("ident"));
  }
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;
  ~Bridge() {  // destroyed with the GIL held
    Py_XDECREF(type_);
    Py_XDECREF(value_);
    Py_XDECREF(trace_);
  }

  std::function<void(const keras64::Progress&)> function() {
    if (callback_.is_none() && !on_main_thread_) return {};
    return [this](const keras64::Progress& p) { tick(p.bytes_done, p.bytes_total); };
  }
  const std::atomic<bool>* cancel() const { return &cancel_; }
  /// ConvertOptions that report progress to, and are cancelled by, this bridge.
  keras64::ConvertOptions convert_options(keras64::CastMode cast, std::size_t chunk_bytes) {
    keras64::ConvertOptions co;
    co.cast = cast;
    co.chunk_bytes = chunk_bytes;
    co.on_progress = function();
    co.cancel = cancel();
    return co;
  }

  // Called between chunks, GIL released.
  void tick(std::uint64_t done, std::uint64_t total) {
    if (cancel_.load()) return;
    const auto now = std::chrono::steady_clock::now();
    // Without a callback the GIL is only taken for signals, at most every 50 ms.
    if (callback_.is_none() && now - last_ < std::chrono::milliseconds(50)) return;
    last_ = now;
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) return keep_error();
    if (!callback_.is_none()) {
      try {
        callback_(done, total);
      } catch (py::error_already_set& e) {
        e.restore();
        keep_error();
      }
    }
  }

  // With the GIL held, after the call failed: re-raises a kept Python exception, if any.
  void reraise_kept() {
    if (type_ == nullptr) return;
    PyErr_Restore(type_, value_, trace_);
    type_ = value_ = trace_ = nullptr;
    throw py::error_already_set();
  }

 private:
  void keep_error() {
    PyErr_Fetch(&type_, &value_, &trace_);
    cancel_.store(true);
  }

  py::object callback_;
  bool on_main_thread_ = false;
  std::atomic<bool> cancel_{false};
  std::chrono::steady_clock::time_point last_{};
  PyObject* type_ = nullptr;
  PyObject* value_ = nullptr;
  PyObject* trace_ = nullptr;
};

// Runs `f` (which releases the GIL itself); maps keras64::Error, preferring an exception kept by
// the bridge (the user's Ctrl-C or callback error) over the "interrupted" it caused.
template <class F>
auto guarded(Bridge* bridge, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    if (bridge) bridge->reraise_kept();
    raise(e);
  }
}

// ---- dicts for the Python layer -----------------------------------------------------------

py::dict source_dict(const keras64::SourceInfo& s) {
  py::dict d;
  d["file"] = s.file;
  d["kind"] = std::string(keras64::kind_name(s.kind));
  d["keras_version"] = s.keras_version;
  d["model_name"] = s.model_name;
  d["order_exact"] = s.order_exact;
  d["note"] = s.order_hint == keras64::Hint::model
                  ? s.note + " - pass model=ARCH.keras for get_weights() order"
                  : s.note;
  py::list skipped;
  for (const auto& k : s.skipped) skipped.append(py::make_tuple(k.key, k.why));
  d["skipped"] = py::tuple(skipped);
  return d;
}

py::tuple shape_tuple(const keras64::Shape& shape) {
  py::tuple t(shape.size());
  for (std::size_t i = 0; i < shape.size(); ++i) t[i] = py::int_(shape[i]);
  return t;
}

py::dict tensor_dict(const keras64::TensorInfo& t) {
  py::dict d;
  d["name"] = t.name;
  d["dtype"] = std::string(info(t.dtype).name);
  d["shape"] = shape_tuple(t.shape);
  d["role"] = std::string(role_name(t.role));
  d["layer"] = t.layer;
  d["keras_path"] = t.keras_path;
  d["key"] = t.key;
  d["file"] = t.file;
  d["dataset"] = t.dataset;
  d["nbytes"] = py::int_(t.nbytes());
  return d;
}

py::dict report_dict(const keras64::ConvertReport& r, const keras64::SourceInfo& source,
                     const std::string& out, const std::string& format) {
  py::dict d;
  d["source"] = source_dict(source);
  py::dict output;
  output["path"] = out;
  output["format"] = format;
  d["output"] = output;
  d["bytes_read"] = py::int_(r.bytes_read);
  d["bytes_written"] = py::int_(r.bytes_written);
  d["seconds"] = r.seconds;
  py::list tensors;
  for (std::size_t i = 0; i < r.tensors.size(); ++i) {
    const auto& t = r.tensors[i];
    py::dict td;
    td["index"] = i;
    td["name"] = t.name;
    td["from"] = std::string(info(t.from).name);
    td["to"] = std::string(info(t.to).name);
    td["shape"] = shape_tuple(t.shape);
    tensors.append(td);
  }
  d["tensors"] = tensors;
  return d;
}

keras64::CastMode parse_cast(const std::string& cast) {
  if (cast == "floats") return keras64::CastMode::floats;
  if (cast == "all") return keras64::CastMode::all;
  throw Error(Errc::invalid_argument, "unknown cast '" + cast + "' (valid: floats, all)");
}

// ---- numpy arrays as a Source -------------------------------------------------------------

// One array as raw memory: read without the GIL, never copied as a whole.
struct ArrayView {
  const std::byte* data = nullptr;
  std::vector<std::uint64_t> shape;
  std::vector<std::ptrdiff_t> strides;  // bytes, may be negative
  std::size_t itemsize = 0;
  bool contiguous = false;  // C order
  bool swap = false;        // big-endian in memory
  bool boolean = false;     // normalise to 0/1
};

// A dtype's item size through Python, not pybind11's dtype::itemsize(): pybind11 2.10 (Debian 12)
// reads PyArray_Descr::elsize at its numpy 1.x offset, which numpy 2 moved, so under numpy 2 it
// returns garbage (arrays it allocated then had zero strides: every element aliased the first).
std::size_t item_size(const py::dtype& dt) {
  return dt.attr("itemsize").cast<std::size_t>();
}

// A new C-order array; strides given explicitly for the same reason as item_size().
py::array new_array(const py::dtype& dt, const std::vector<py::ssize_t>& shape) {
  std::vector<py::ssize_t> strides(shape.size());
  auto stride = static_cast<py::ssize_t>(item_size(dt));
  for (std::size_t d = shape.size(); d-- > 0;) {
    strides[d] = stride;
    stride *= shape[d];
  }
  return py::array(dt, shape, strides);
}

std::optional<DType> numpy_dtype(const py::dtype& dt) {
  const char kind = dt.attr("kind").cast<std::string>().at(0);
  const auto size = item_size(dt);
  switch (kind) {
    case 'f':
      if (size == 2) return DType::f16;
      if (size == 4) return DType::f32;
      if (size == 8) return DType::f64;
      break;
    case 'i':
    case 'u': {
      const bool s = kind == 'i';
      if (size == 1) return s ? DType::i8 : DType::u8;
      if (size == 2) return s ? DType::i16 : DType::u16;
      if (size == 4) return s ? DType::i32 : DType::u32;
      if (size == 8) return s ? DType::i64 : DType::u64;
      break;
    }
    case 'b':
      return DType::boolean;
    default:
      break;
  }
  // ml_dtypes.bfloat16 (what JAX and TensorFlow hand out) is a 2-byte void-kind dtype.
  if (size == 2 && dt.attr("name").cast<std::string>() == "bfloat16") return DType::bf16;
  return std::nullopt;
}

class ArraySource final : public keras64::Source {
 public:
  ArraySource(keras64::SourceInfo info, std::vector<keras64::TensorInfo> tensors,
              std::vector<ArrayView> views)
      : info_(std::move(info)), tensors_(std::move(tensors)), views_(std::move(views)) {}

  const keras64::SourceInfo& info() const override { return info_; }
  const std::vector<keras64::TensorInfo>& tensors() const override { return tensors_; }

  void read(std::size_t index, std::uint64_t first, std::uint64_t count, void* dst) override {
    if (index >= views_.size() || first + count < first ||
        first + count > tensors_[index].elements())
      throw Error(Errc::internal, tensors_[index].where() + ": read out of range");
    if (count == 0) return;
    const ArrayView& v = views_[index];
    auto* out = static_cast<std::byte*>(dst);
    if (v.contiguous)
      std::memcpy(out, v.data + first * v.itemsize, count * v.itemsize);
    else
      gather(v, first, count, out);
    if (v.swap) {
      for (std::uint64_t i = 0; i < count; ++i)
        std::reverse(out + i * v.itemsize, out + (i + 1) * v.itemsize);
    }
    if (v.boolean) {
      for (std::uint64_t i = 0; i < count; ++i) out[i] = std::byte{out[i] != std::byte{0}};
    }
  }

 private:
  // Copies C-order flat elements [first, first + count) of a strided array, one run of the last
  // axis at a time (a memcpy when that axis is contiguous).
  static void gather(const ArrayView& v, std::uint64_t first, std::uint64_t count, std::byte* out) {
    const std::size_t rank = v.shape.size();
    const std::size_t k = v.itemsize;
    std::vector<std::uint64_t> idx(rank);
    std::uint64_t rest = first;
    for (std::size_t d = rank; d-- > 0;) {
      idx[d] = rest % v.shape[d];
      rest /= v.shape[d];
    }
    const std::ptrdiff_t inner = v.strides[rank - 1];
    while (count > 0) {
      const std::byte* p = v.data;
      for (std::size_t d = 0; d < rank; ++d)
        p += static_cast<std::ptrdiff_t>(idx[d]) * v.strides[d];
      const std::uint64_t run = std::min(count, v.shape[rank - 1] - idx[rank - 1]);
      if (inner == static_cast<std::ptrdiff_t>(k)) {
        std::memcpy(out, p, run * k);
      } else {
        for (std::uint64_t j = 0; j < run; ++j)
          std::memcpy(out + j * k, p + static_cast<std::ptrdiff_t>(j) * inner, k);
      }
      out += run * k;
      count -= run;
      idx[rank - 1] += run;
      for (std::size_t d = rank - 1; d > 0 && idx[d] == v.shape[d]; --d) {
        idx[d] = 0;
        ++idx[d - 1];
      }
    }
  }

  keras64::SourceInfo info_;
  std::vector<keras64::TensorInfo> tensors_;
  std::vector<ArrayView> views_;
};

// Builds the source over `arrays` (numpy arrays, kept alive by the caller for the whole call).
std::unique_ptr<ArraySource> make_array_source(const py::list& arrays,
                                               const std::vector<std::string>& names,
                                               const std::vector<std::string>& keras_paths,
                                               const py::dict& source) {
  const std::size_t n = arrays.size();
  if (names.size() != n)
    throw Error(Errc::invalid_argument,
                std::to_string(names.size()) + " names given for " + std::to_string(n) + " arrays");
  keras64::SourceInfo info;
  info.file = source["file"].cast<std::string>();
  const auto kind_text = source["kind"].cast<std::string>();
  const auto kind = keras64::source_kind(kind_text);
  if (!kind) throw Error(Errc::invalid_argument, "unknown source kind '" + kind_text + "'");
  info.kind = *kind;
  info.model_name = source["model_name"].cast<std::string>();
  info.order_exact = true;
  std::vector<keras64::TensorInfo> tensors(n);
  std::vector<ArrayView> views(n);
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < n; ++i) {
    auto a = py::reinterpret_borrow<py::array>(arrays[i]);
    auto& t = tensors[i];
    t.name = names[i];
    t.file = info.file;
    if (i < keras_paths.size() && !keras_paths[i].empty()) {
      t.keras_path = keras_paths[i];
      const auto slash = t.keras_path.rfind('/');
      if (slash != std::string::npos) t.layer = t.keras_path.substr(0, slash);
    }
    const std::string what = "weight " + std::to_string(i) + " ('" + t.name + "')";
    if (t.name.empty()) throw Error(Errc::invalid_argument, what + ": empty tensor name");
    if (!seen.insert(t.name).second)
      throw Error(Errc::invalid_argument, what + ": duplicate tensor name");
    const auto dtype = numpy_dtype(a.dtype());
    if (!dtype)
      throw Error(Errc::unsupported,
                  what + ": dtype " + py::str(a.dtype()).cast<std::string>() +
                      " is not supported (float16/32/64, bfloat16, int8-64, uint8-64, bool are)");
    t.dtype = *dtype;
    auto& v = views[i];
    v.data = static_cast<const std::byte*>(a.data());
    v.itemsize = item_size(a.dtype());
    for (py::ssize_t d = 0; d < a.ndim(); ++d) {
      t.shape.push_back(static_cast<std::uint64_t>(a.shape(d)));
      v.strides.push_back(a.strides(d));
    }
    v.shape = t.shape;
    v.contiguous = (a.flags() & py::array::c_style) != 0;
    v.swap = a.dtype().attr("byteorder").cast<std::string>() == ">" && v.itemsize > 1;
    v.boolean = t.dtype == DType::boolean;
    keras64::element_count(t.shape);  // throws on overflow
  }
  return std::make_unique<ArraySource>(std::move(info), std::move(tensors), std::move(views));
}

// ---- the module functions -----------------------------------------------------------------

keras64::OpenOptions open_options(const std::string& model, bool include_optimizer) {
  keras64::OpenOptions o;
  o.model = model;
  o.include_optimizer = include_optimizer;
  return o;
}

py::tuple inspect(const std::string& path, const std::string& model, bool include_optimizer) {
  return guarded(nullptr, [&] {
    std::unique_ptr<keras64::Source> src;
    {
      py::gil_scoped_release nogil;
      src = keras64::open_source(path, open_options(model, include_optimizer));
    }
    py::list tensors;
    for (const auto& t : src->tensors()) tensors.append(tensor_dict(t));
    return py::make_tuple(source_dict(src->info()), tensors);
  });
}

// ---- reading into numpy arrays -------------------------------------------------------------

// The sink of load(): each planned tensor's bytes go into its preallocated numpy buffer, so
// Python reads through keras64::convert(), the one chunked read-widen loop.
class ArraySink final : public keras64::Sink {
 public:
  explicit ArraySink(std::vector<unsigned char*> buffers) : buffers_(std::move(buffers)) {}
  void begin(const keras64::Plan& plan) override {
    if (plan.tensors.size() != buffers_.size())
      throw Error(Errc::internal, "array sink: plan and buffers differ in length");
    done_.assign(buffers_.size(), 0);
    sizes_.clear();
    for (const auto& t : plan.tensors) sizes_.push_back(t.nbytes());
  }
  void write(std::size_t index, const void* data, std::size_t nbytes) override {
    if (index >= buffers_.size() || nbytes > sizes_[index] - done_[index])
      throw Error(Errc::internal, "array sink: more data than planned");
    std::memcpy(buffers_[index] + done_[index], data, nbytes);
    done_[index] += nbytes;
    written_ += nbytes;
  }
  void commit() override {}
  std::uint64_t bytes_written() const override { return written_; }

 private:
  std::vector<unsigned char*> buffers_;
  std::vector<std::uint64_t> sizes_, done_;
  std::uint64_t written_ = 0;
};

// The tensors of `base` at `keep` (in that order): what load(mmap=True) still has to read.
class SubsetSource final : public keras64::Source {
 public:
  SubsetSource(keras64::Source& base, std::vector<std::size_t> keep)
      : base_(base), keep_(std::move(keep)), info_(base.info()) {
    for (auto i : keep_) tensors_.push_back(base.tensors()[i]);
  }
  const keras64::SourceInfo& info() const override { return info_; }
  const std::vector<keras64::TensorInfo>& tensors() const override { return tensors_; }
  void read(std::size_t index, std::uint64_t first, std::uint64_t count, void* dst) override {
    base_.read(keep_.at(index), first, count, dst);
  }
  void verify_checksums() override { base_.verify_checksums(); }

 private:
  keras64::Source& base_;
  std::vector<std::size_t> keep_;
  keras64::SourceInfo info_;
  std::vector<keras64::TensorInfo> tensors_;
};

// Every tensor of `path` as a numpy array, in plan order, through keras64::convert(). With
// `mmap`, a tensor stored as float64 verbatim in an ordinary file (Source::extent()) is not read:
// its entry is (path, offset) for Python to map.
py::tuple read_all(const std::string& path, const std::string& model, bool include_optimizer,
                   const std::string& cast, std::size_t chunk_bytes, bool mmap,
                   py::object progress) {
  Bridge bridge(std::move(progress));
  return guarded(&bridge, [&] {
    std::unique_ptr<keras64::Source> src;
    {
      py::gil_scoped_release nogil;
      src = keras64::open_source(path, open_options(model, include_optimizer));
    }
    const keras64::CastMode mode = parse_cast(cast);
    const keras64::Plan plan = keras64::make_plan(*src, mode);
    py::list arrays;
    std::vector<std::size_t> read;
    std::vector<unsigned char*> buffers;
    for (std::size_t i = 0; i < plan.tensors.size(); ++i) {
      const auto& pt = plan.tensors[i];
      if (mmap && pt.source.dtype == DType::f64) {
        if (auto e = src->extent(i)) {
          arrays.append(py::make_tuple(e->path.string(), py::int_(e->offset)));
          continue;
        }
      }
      std::vector<py::ssize_t> shape;
      for (auto d : pt.source.shape) shape.push_back(static_cast<py::ssize_t>(d));
      py::array a = new_array(py::dtype(std::string(info(pt.dtype).name)), shape);
      buffers.push_back(static_cast<unsigned char*>(a.mutable_data()));
      read.push_back(i);
      arrays.append(a);
    }
    const keras64::ConvertOptions co = bridge.convert_options(mode, chunk_bytes);
    {
      py::gil_scoped_release nogil;
      SubsetSource subset(*src, read);
      ArraySink sink(std::move(buffers));
      // Checks the input's checksums before it returns: damaged input raises.
      keras64::convert(subset, sink, co);
    }
    py::list tensors;
    for (const auto& t : src->tensors()) tensors.append(tensor_dict(t));
    return py::make_tuple(source_dict(src->info()), tensors, arrays);
  });
}

// keras64::verify(): the same fields as `keras64 verify --json`.
py::dict verify(const std::string& path, std::size_t chunk_bytes, py::object progress) {
  Bridge bridge(std::move(progress));
  return guarded(&bridge, [&] {
    keras64::VerifyOptions vo;
    vo.chunk_bytes = chunk_bytes;
    vo.on_progress = bridge.function();
    vo.cancel = bridge.cancel();
    keras64::VerifyReport r;
    {
      py::gil_scoped_release nogil;
      r = keras64::verify(path, vo);
    }
    py::dict d;
    d["source"] = source_dict(r.source);
    d["verified"] = r.checked();
    d["checksums"] = r.kinds;
    d["tensors"] = r.tensors;
    d["tensors_checked"] = r.tensors_checked;
    d["bytes_checked"] = py::int_(r.bytes_checked);
    d["zip_members"] = r.zip_members;
    d["zip_bytes"] = py::int_(r.zip_bytes);
    d["unchecked"] = r.unchecked;
    return d;
  });
}

keras64::SinkOptions sink_options(bool force, int level, unsigned threads, bool compress) {
  keras64::SinkOptions so;
  so.force = force;
  so.level = level;
  so.threads = threads;
  so.compress = compress;
  return so;
}

py::dict convert(const std::string& src_path, const std::string& dst, const std::string& to,
                 const std::string& model, const std::string& cast, bool include_optimizer,
                 bool force, std::size_t chunk_bytes, int level, unsigned threads, bool compress,
                 py::object progress) {
  Bridge bridge(std::move(progress));
  return guarded(&bridge, [&] {
    const keras64::ConvertOptions co = bridge.convert_options(parse_cast(cast), chunk_bytes);
    const keras64::SinkOptions so = sink_options(force, level, threads, compress);
    keras64::ConvertReport r;
    keras64::SourceInfo info;
    {
      py::gil_scoped_release nogil;
      auto src = keras64::open_source(src_path, open_options(model, include_optimizer));
      auto sink = keras64::open_sink(to, dst, so);
      r = keras64::convert(*src, *sink, co);
      info = src->info();
    }
    return report_dict(r, info, dst, to);
  });
}

py::dict save(const py::list& arrays, const std::vector<std::string>& names,
              const std::vector<std::string>& keras_paths, const py::dict& source,
              const std::string& path, const std::string& format, const std::string& cast,
              bool force, std::size_t chunk_bytes, int level, unsigned threads, bool compress,
              py::object progress) {
  Bridge bridge(std::move(progress));
  return guarded(&bridge, [&] {
    auto src = make_array_source(arrays, names, keras_paths, source);
    const keras64::ConvertOptions co = bridge.convert_options(parse_cast(cast), chunk_bytes);
    const keras64::SinkOptions so = sink_options(force, level, threads, compress);
    keras64::ConvertReport r;
    {
      py::gil_scoped_release nogil;
      auto sink = keras64::open_sink(format, path, so);
      r = keras64::convert(*src, *sink, co);
    }
    return report_dict(r, src->info(), path, format);
  });
}

py::dict account_dict(const keras64::RoundingAccount& a) {
  py::dict d;
  d["values"] = py::int_(a.values);
  d["changed"] = py::int_(a.changed);
  d["max_abs_error"] = a.max_abs_error;
  d["max_rel_error"] = a.max_rel_error;
  d["max_ulp_error"] = a.max_ulp_error;
  d["overflows"] = py::int_(a.overflows);
  d["subnormal"] = py::int_(a.subnormal);
  d["to_zero"] = py::int_(a.to_zero);
  d["nans"] = py::int_(a.nans);
  d["infs"] = py::int_(a.infs);
  d["exact"] = a.exact();
  return d;
}

// Casts the float64 C-order array `src` into `dst` (C-order, writable, same element count) of
// dtype `to`: floats are rounded with the account returned; integers and bools must be exact
// (Error{mismatch} naming `what` otherwise).
py::dict narrow(const py::array& src, py::array& dst, const std::string& to,
                const std::string& what) {
  return guarded(nullptr, [&] {
    const auto dtype = keras64::parse_dtype(to);
    if (!dtype) throw Error(Errc::unsupported, what + ": dtype " + to + " is not supported");
    if (!(src.flags() & py::array::c_style) || !(dst.flags() & py::array::c_style) ||
        src.dtype().attr("kind").cast<std::string>() != "f" || item_size(src.dtype()) != 8 ||
        src.size() != dst.size() || item_size(dst.dtype()) != info(*dtype).size || !dst.writeable())
      throw Error(Errc::internal,
                  what + ": narrow() needs C-order float64 input and a matching output");
    const auto* in = static_cast<const double*>(src.data());
    void* out = dst.mutable_data();
    const auto n = static_cast<std::size_t>(src.size());
    keras64::RoundingAccount account;
    if (keras64::can_narrow_to(*dtype)) {
      py::gil_scoped_release nogil;
      keras64::narrow_from_f64(in, n, *dtype, out, account);
    } else {
      std::size_t bad = 0;
      {
        py::gil_scoped_release nogil;
        bad = keras64::integers_from_f64(in, n, *dtype, out);
      }
      if (bad < n)
        throw Error(Errc::mismatch,
                    what + ": value " + py::str(py::float_(in[bad])).cast<std::string>() +
                        " at flat index " + std::to_string(bad) + " is not an exact " + to);
      account.values = n;
    }
    return account_dict(account);
  });
}

py::dict diff(const std::string& a, const std::string& b, const std::string& model, double rtol,
              double atol, std::uint64_t ulp, std::size_t chunk_bytes) {
  return guarded(nullptr, [&] {
    keras64::DiffOptions o;
    o.model = model;
    o.rtol = rtol;
    o.atol = atol;
    o.ulp = ulp;
    o.chunk_bytes = chunk_bytes;
    keras64::DiffReport r;
    {
      py::gil_scoped_release nogil;
      r = keras64::diff(a, b, o);
    }
    py::dict d;
    d["equal"] = r.equal();
    d["by_name"] = r.by_name;
    d["a"] = source_dict(r.a);
    d["b"] = source_dict(r.b);
    py::list tensors;
    for (const auto& t : r.tensors) {
      py::dict td;
      td["index_a"] = t.index_a;
      td["index_b"] = t.index_b;
      td["name_a"] = t.name_a;
      td["name_b"] = t.name_b;
      td["dtype_a"] = std::string(info(t.dtype_a).name);
      td["dtype_b"] = std::string(info(t.dtype_b).name);
      td["shape_a"] = shape_tuple(t.shape_a);
      td["shape_b"] = shape_tuple(t.shape_b);
      td["shape_differs"] = t.shape_differs;
      td["elements"] = py::int_(t.elements);
      td["not_identical"] = py::int_(t.not_identical);
      td["out_of_tolerance"] = py::int_(t.out_of_tolerance);
      td["first_out"] = py::int_(t.first_out);
      td["max_abs"] = t.max_abs;
      td["max_rel"] = t.max_rel;
      td["max_ulp"] = py::int_(t.max_ulp);
      td["ok"] = t.ok();
      tensors.append(td);
    }
    d["tensors"] = tensors;
    d["only_a"] = r.only_a;
    d["only_b"] = r.only_b;
    return d;
  });
}

// keras64::match_tensors() on names only: (by_name, [(index in a, index in b)], only_a, only_b).
py::tuple match_names(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  auto infos = [](const std::vector<std::string>& names) {
    std::vector<keras64::TensorInfo> out(names.size());
    for (std::size_t i = 0; i < names.size(); ++i) out[i].name = names[i];
    return out;
  };
  const keras64::Matching m = keras64::match_tensors(infos(a), infos(b));
  return py::make_tuple(m.by_name, m.pairs, m.only_a, m.only_b);
}
}  // namespace

PYBIND11_MODULE(_keras64, m) {
  m.doc() = "C++ core of the keras64 Python module; use `import keras64`.";

  g_format_error = PyErr_NewExceptionWithDoc(
      "keras64.FormatError", "The input breaks its format (truncated, bad header, ...).",
      PyExc_ValueError, nullptr);
  g_mismatch_error = PyErr_NewExceptionWithDoc(
      "keras64.MismatchError",
      "Two valid inputs disagree (tensor count, shape or name does not match the model).",
      PyExc_ValueError, nullptr);
  if (!g_format_error || !g_mismatch_error) throw py::error_already_set();
  m.attr("DEFAULT_CHUNK_SIZE") = keras64::ConvertOptions{}.chunk_bytes;
  m.attr("FormatError") = py::handle(g_format_error);
  m.attr("MismatchError") = py::handle(g_mismatch_error);
  // Defaults for the fields, so that the ones raised in Python (load_into) have them too.
  using Default = std::pair<PyObject*, const char*>;
  for (const auto& [type, code] :
       {Default{g_format_error, "corrupt"}, Default{g_mismatch_error, "mismatch"}}) {
    py::handle t(type);
    t.attr("code") = code;
    for (const char* field : {"file", "member", "key", "message"}) t.attr(field) = py::none();
  }

  // Errors raised outside guarded() (none expected) still get their Python type.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      set_error(e);
    }
  });

  m.def("version", &keras64::version, "The library's version (CMake's project version).");
  m.def("sink_formats", &keras64::sink_formats);
  m.def("diff", &diff, py::arg("a"), py::arg("b"), py::arg("model"), py::arg("rtol"),
        py::arg("atol"), py::arg("ulp"), py::arg("chunk_bytes"));
  m.def("match_names", &match_names, py::arg("a"), py::arg("b"));
  m.def("narrow", &narrow, py::arg("src"), py::arg("dst"), py::arg("to"), py::arg("what"));
  m.def("verify", &verify, py::arg("path"), py::arg("chunk_bytes"), py::arg("progress"));
  m.def("inspect", &inspect, py::arg("path"), py::arg("model"), py::arg("include_optimizer"));
  m.def("read_all", &read_all, py::arg("path"), py::arg("model"), py::arg("include_optimizer"),
        py::arg("cast"), py::arg("chunk_bytes"), py::arg("mmap"), py::arg("progress"));
  m.def("convert", &convert, py::arg("src"), py::arg("dst"), py::arg("to"), py::arg("model"),
        py::arg("cast"), py::arg("include_optimizer"), py::arg("force"), py::arg("chunk_bytes"),
        py::arg("level"), py::arg("threads"), py::arg("compress"), py::arg("progress"));
  m.def("save", &save, py::arg("arrays"), py::arg("names"), py::arg("keras_paths"),
        py::arg("source"), py::arg("path"), py::arg("format"), py::arg("cast"), py::arg("force"),
        py::arg("chunk_bytes"), py::arg("level"), py::arg("threads"), py::arg("compress"),
        py::arg("progress"));
}

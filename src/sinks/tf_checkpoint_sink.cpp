// --to tf-checkpoint: a TensorFlow TensorBundle, `OUT.index` + `OUT.data-00000-of-00001`, holding
// the input bundle's keys and entries with every float tensor as DT_DOUBLE (docs/
// output-formats.md). The input is a TF checkpoint or SavedModel, whose bundle prefix the source
// hands over in the plan (SourceStructure::tf_bundle; from a SavedModel, its variables/variables).
//
//  - Entries keep their keys and their order in the data (one shard: the input's shards one after
//    the other, each in its own order - TF2 object saves put _CHECKPOINTABLE_OBJECT_GRAPH last).
//  - Planned tensors are written as the converter streams them, at offsets laid out in begin(),
//    in PlannedTensor::dtype (float64 for convert, the model's dtypes for load --dtype model).
//    Partitioned tensors keep their slices: the full tensor's row-major stream is cut into runs
//    that are contiguous in one slice, and each slice's elements arrive in the slice's own
//    row-major order, so each slice is written and checksummed as a stream of its own.
//  - Entries not planned are copied in begin(): float ones (optimizer state without
//    --include-optimizer, Keras metric state) widened to float64 unless the sink keeps the
//    input's dtypes (load --dtype model), everything else byte for byte (integers, strings with
//    the object graph, variants, resources); each one's stored CRC is checked as it is read.
//  - Each entry's BundleEntryProto is the input's with dtype, offset, size, shard and masked
//    CRC32C replaced (other fields, known or not, kept); the header is the input's (num_shards
//    set to 1 when the input had more). The table is built as TensorFlow builds it
//    (detail/tf_table_writer.hpp).
//  - Atomic as a pair as far as POSIX allows: both files are written under temporary names and
//    fsynced, then PendingOutput::commit_pair puts them in place - an old index moved aside
//    first, then the data file renamed into place, then the index. The index is what makes a
//    checkpoint (TF and keras64 find a bundle by it), so no index ever stands beside data that
//    is not its own; a kill between the renames can leave a data file alone, which no reader
//    takes for a checkpoint and the next run replaces (with or without --force: only an
//    existing index makes the output exist).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>

#include "detail/buffered_writer.hpp"
#include "detail/crc32c.hpp"
#include "detail/file.hpp"
#include "detail/output_path.hpp"
#include "detail/tf_bundle.hpp"
#include "detail/tf_table.hpp"
#include "detail/tf_table_writer.hpp"
#include "keras64/convert.hpp"
#include "keras64/error.hpp"
#include "sinks/ordered_sink.hpp"
#include "sinks/sinks.hpp"
#include "tensor_bundle.pb.h"

namespace fs = std::filesystem;

namespace keras64::detail {
namespace {

constexpr std::size_t kCopyChunk = std::size_t{1} << 20;         // bytes read per step when copying
constexpr std::uint64_t kMaxStrings = std::uint64_t{256} << 20;  // a string entry, checked whole
constexpr std::uint64_t kMaxIndexFile = std::uint64_t{256} << 20;

std::string shard_suffix(std::uint32_t i, std::uint32_t n) {
  char s[48];
  std::snprintf(s, sizeof s, ".data-%05u-of-%05u", i, n);
  return s;
}

// TF's DataType for a keras64 dtype (the inverse of tf::to_dtype).
int tf_type_of(DType d) {
  for (int t :
       {tf::kFloat, tf::kDouble, tf::kHalf, tf::kBfloat16, tf::kInt8, tf::kInt16, tf::kInt32,
        tf::kInt64, tf::kUint8, tf::kUint16, tf::kUint32, tf::kUint64, tf::kBool})
    if (tf::to_dtype(t) == d) return t;
  throw Error(Errc::internal, "tf-checkpoint: no TensorFlow type for " + std::string(info(d).name));
}

void swap_elements(unsigned char* p, std::size_t n, std::size_t size) {
  if (size > 1)
    for (std::size_t i = 0; i < n; i += size) std::reverse(p + i, p + i + size);
}

// One entry of the output, in the input's key order.
struct OutEntry {
  int dtype = 0;                       // TF DataType written
  std::uint64_t offset = 0, size = 0;  // in the output data file (entries with data)
  std::uint32_t crc = 0;               // CRC32C of the bytes written (unmasked)
  std::optional<std::size_t> plan;     // the plan tensor written here (a full tensor's slices
                                       // are fed through their full entry)
  bool fed = false;                    // data comes from write(), not copied in begin()
};

class TfCheckpointSink final : public OrderedSink {
 public:
  TfCheckpointSink(fs::path prefix, const SinkOptions& options)
      : prefix_(std::move(prefix)), options_(options) {
    const std::string p = prefix_.string();
    std::error_code ec;
    if (p.ends_with(".index") || p.ends_with("/") || fs::is_directory(prefix_, ec))
      throw Error(Errc::invalid_argument, {p},
                  "the tf-checkpoint format writes PREFIX.index and PREFIX.data-00000-of-00001: "
                  "give the prefix (out/ckpt), not the index file or a directory");
    // The index alone decides whether the output exists: a data file without one is what a
    // killed run leaves, and is replaced.
    check_output_target(index_path(), options_.force);
  }

 private:
  fs::path index_path() const { return prefix_.string() + ".index"; }
  fs::path data_path() const { return prefix_.string() + shard_suffix(0, 1); }
  std::string shown() const { return prefix_.string(); }

  Error outside(const Error& e) const {
    if (index_pending_ && e.file() == index_pending_->temp().string())
      return e.renamed(e.file(), index_path().string());
    return e.renamed(data_pending_->temp().string(), data_path().string());
  }

  void on_begin() override {
    require_source_kind(plan(), {SourceKind::tf_checkpoint, SourceKind::tf_savedmodel},
                        "tf-checkpoint", "a TensorFlow checkpoint or SavedModel input");
    const std::string& label = plan().source.file;
    const fs::path& in_prefix = plan().structure.tf_bundle;
    if (in_prefix.empty()) throw Error(Errc::internal, {shown()}, label + " has no bundle prefix");
    in_.emplace(in_prefix, label);
    // The table's values as stored: each entry's proto is rewritten from its own bytes, so that
    // fields keras64 does not declare are kept.
    try {
      table_ = tf::read_table(read_text_file(in_prefix.string() + ".index", kMaxIndexFile));
    } catch (const Error& e) {
      throw e.within({label});
    }
    const auto& entries = in_->entries();
    if (table_.size() != entries.size() + 1)
      throw Error(Errc::internal, {shown()}, "index read twice differently");
    for (std::uint32_t s = 0; s < in_->num_shards(); ++s)
      shards_.push_back(File::open_read(in_prefix.string() + shard_suffix(s, in_->num_shards())));
    swap_ = in_->big_endian();
    layout();
    data_pending_.emplace(data_path(), /*force=*/true, PendingOutput::Kind::file);
    try {
      data_ = File::create(data_pending_->temp());
      out_.emplace(data_);
      copy_unplanned();
    } catch (const Error& e) {
      throw outside(e);
    }
  }

  // Decides every entry's output dtype, offset and size.
  void layout() {
    const auto& entries = in_->entries();
    std::map<std::string, std::size_t> by_key;
    for (std::size_t i = 0; i < entries.size(); ++i) by_key.emplace(entries[i].key, i);
    out_entries_.resize(entries.size());
    plan_entry_.resize(plan().tensors.size());
    for (std::size_t k = 0; k < plan().tensors.size(); ++k) {
      const PlannedTensor& pt = plan().tensors[k];
      const std::string& key = pt.source.key.empty() ? pt.source.name : pt.source.key;
      auto it = by_key.find(key);
      if (it == by_key.end() || entries[it->second].is_slice)
        throw Error(Errc::mismatch, {shown()},
                    "tensor '" + pt.source.name + "' (key '" + key + "') is not an entry of " +
                        in_->label());
      const tf::BundleEntry& e = entries[it->second];
      const auto stored = tf::to_dtype(e.dtype);
      if (!stored || e.shape != pt.source.shape)
        throw Error(Errc::mismatch, {shown(), "", key},
                    "planned as " + std::string(info(pt.dtype).name) + " " +
                        shape_string(pt.source.shape) + ", the entry is " +
                        tf::tf_type_name(e.dtype) + " " + shape_string(e.shape));
      if (pt.dtype != *stored && !(info(pt.dtype).is_float && info(*stored).is_float))
        throw Error(
            Errc::unsupported, {shown(), "", key},
            tf::tf_type_name(e.dtype) + " written as " + std::string(info(pt.dtype).name) +
                ": a checkpoint keeps its integer entries as stored (TensorFlow restores "
                "a variable only from its own dtype); casting all tensors is not available here");
      OutEntry& o = out_entries_[it->second];
      if (o.plan) throw Error(Errc::internal, {shown(), "", key}, "planned twice");
      o.plan = k;
      o.fed = true;
      o.dtype = tf_type_of(pt.dtype);
      for (std::size_t s : e.slice_entries) {
        out_entries_[s].fed = true;
        out_entries_[s].dtype = o.dtype;
      }
      plan_entry_[k] = it->second;
    }
    for (std::size_t i = 0; i < entries.size(); ++i) {
      OutEntry& o = out_entries_[i];
      if (o.fed) continue;
      const auto dt = tf::to_dtype(entries[i].dtype);
      const bool widen = dt && info(*dt).is_float && *dt != DType::f64 && !options_.keep_config;
      o.dtype = widen ? tf::kDouble : entries[i].dtype;
      // A partitioned tensor's slices follow its full entry's dtype.
      for (std::size_t s : entries[i].slice_entries) out_entries_[s].dtype = o.dtype;
    }
    // Data in the input's order: shard by shard, by offset.
    for (std::size_t i = 0; i < entries.size(); ++i)
      if (entries[i].slices.empty()) data_order_.push_back(i);
    std::stable_sort(data_order_.begin(), data_order_.end(), [&](std::size_t a, std::size_t b) {
      return std::pair(entries[a].shard, entries[a].offset) <
             std::pair(entries[b].shard, entries[b].offset);
    });
    std::uint64_t offset = 0;
    for (std::size_t i : data_order_) {
      OutEntry& o = out_entries_[i];
      const tf::BundleEntry& e = entries[i];
      o.offset = offset;
      o.size = e.size;
      if (const auto dt = tf::to_dtype(o.dtype)) o.size = element_count(e.shape) * info(*dt).size;
      offset += o.size;
    }
  }

  // Every entry whose data does not come from write(), in output order.
  void copy_unplanned() {
    const auto& entries = in_->entries();
    buf_.resize(kCopyChunk);
    for (std::size_t i : data_order_) {
      OutEntry& o = out_entries_[i];
      if (o.fed) continue;
      const tf::BundleEntry& e = entries[i];
      const ErrorContext where = in_->where(e);
      if (e.dtype == tf::kString) in_->read_strings(i, kMaxStrings);  // checks its two CRCs
      const auto in_dt = tf::to_dtype(e.dtype);
      const bool widen = o.dtype != e.dtype;
      const std::size_t in_size = in_dt ? info(*in_dt).size : 1;
      out_->seek(o.offset);
      std::uint32_t in_crc = 0, out_crc = 0;
      for (std::uint64_t done = 0; done < e.size;) {
        // Whole elements per step (kCopyChunk is a multiple of every element size).
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kCopyChunk, e.size - done));
        try {
          shards_[e.shard].pread_all(buf_.data(), n, e.offset + done);
        } catch (const Error& err) {
          throw err.within(where);
        }
        in_crc = crc32c_extend(in_crc, buf_.data(), n);
        done += n;
        if (!widen) {
          put(buf_.data(), n, out_crc);
          continue;
        }
        const std::size_t count = n / in_size;
        wide_.resize(count);
        if (swap_) swap_elements(buf_.data(), n, in_size);
        widen_to_f64(*in_dt, buf_.data(), count, wide_.data());
        auto* w = reinterpret_cast<unsigned char*>(wide_.data());
        if (swap_) swap_elements(w, count * 8, 8);
        put(w, count * 8, out_crc);
      }
      // Strings and variants have CRCs of their own layout (strings checked above); every other
      // entry's CRC is of its stored bytes.
      if (e.dtype != tf::kString && e.dtype != tf::kVariant && in_crc != e.crc)
        throw Error(Errc::corrupt, where, "data checksum mismatch (CRC32C)");
      o.crc = widen ? out_crc : e.crc;
    }
  }

  void put(const void* data, std::size_t n, std::uint32_t& crc) {
    crc = crc32c_extend(crc, data, n);
    out_->write(data, n);
    bytes_ += n;
  }

  void on_open(std::size_t index) override {
    cur_ = index;
    pos_ = 0;
    const OutEntry& o = out_entries_[plan_entry_[index]];
    if (in_->entries()[plan_entry_[index]].slices.empty()) try {
        out_->seek(o.offset);
      } catch (const Error& e) {
        throw outside(e);
      }
  }

  void on_append(const void* data, std::size_t n) override {
    const std::size_t size = info(plan().tensors[cur_].dtype).size;
    if (n % size)
      throw Error(Errc::internal, {shown()},
                  "a write of " + std::to_string(n) + " bytes is no whole number of elements");
    const auto* p = static_cast<const unsigned char*>(data);
    try {
      while (n > 0) {
        std::size_t step = std::min(n, kCopyChunk);
        if (swap_) {
          buf_.assign(p, p + step);
          swap_elements(buf_.data(), step, size);
        }
        feed(swap_ ? buf_.data() : p, step, size);
        p += step;
        n -= step;
      }
    } catch (const Error& e) {
      throw outside(e);
    }
  }

  // Bytes of the open tensor (whole elements, in output byte order) to its entry or its slices.
  void feed(const unsigned char* p, std::size_t n, std::size_t size) {
    const std::size_t ei = plan_entry_[cur_];
    const tf::BundleEntry& e = in_->entries()[ei];
    if (e.slices.empty()) {
      put(p, n, out_entries_[ei].crc);
      return;
    }
    std::uint64_t count = n / size;
    while (count > 0) {
      const tf::SliceRun r = tf::slice_run(e, pos_, count);
      OutEntry& so = out_entries_[e.slice_entries[r.slice]];
      const std::uint64_t offset = so.offset + r.at * size;
      if (out_->offset() != offset) out_->seek(offset);
      put(p, static_cast<std::size_t>(r.length * size), so.crc);
      p += r.length * size;
      pos_ += r.length;
      count -= r.length;
    }
  }

  void on_close(std::size_t) override {}

  std::string index_file() const {
    std::vector<tf::TableEntry> out;
    tfproto::BundleHeaderProto header;
    if (!header.ParseFromString(table_[0].value))
      throw Error(Errc::internal, {shown()}, "bundle header does not parse");
    std::string hv = table_[0].value;
    if (header.num_shards() != 1) {
      header.set_num_shards(1);
      header.SerializeToString(&hv);
    }
    out.push_back({"", std::move(hv)});
    const auto& entries = in_->entries();
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const OutEntry& o = out_entries_[i];
      const tf::BundleEntry& e = entries[i];
      tfproto::BundleEntryProto pb;
      if (!pb.ParseFromString(table_[i + 1].value))
        throw Error(Errc::internal, {shown(), "", e.key}, "entry does not parse");
      pb.set_dtype(o.dtype);
      if (e.slices.empty()) {
        pb.set_shard_id(0);
        pb.set_offset(static_cast<std::int64_t>(o.offset));
        pb.set_size(static_cast<std::int64_t>(o.size));
        pb.set_crc32c(crc32c_mask(o.crc));
      }
      std::string v;
      pb.SerializeToString(&v);
      out.push_back({table_[i + 1].key, std::move(v)});
    }
    return tf::build_table(out);
  }

  void on_commit() override {
    File index;
    try {
      out_->finish();
      data_.sync();
      data_.close();
      const std::string table = index_file();
      index_pending_.emplace(index_path(), options_.force, PendingOutput::Kind::file);
      index = File::create(index_pending_->temp());
      index.write_all(table.data(), table.size());
      index.sync();
      index.close();
      bytes_ += table.size();
    } catch (const Error& e) {
      throw outside(e);
    }
    PendingOutput::commit_pair(*data_pending_, *index_pending_);
  }

  fs::path prefix_;
  SinkOptions options_;
  std::optional<tf::Bundle> in_;
  std::vector<tf::TableEntry> table_;  // the input's index, header first
  std::vector<File> shards_;
  bool swap_ = false;  // a big-endian bundle: tensor bytes are written big-endian too
  std::vector<OutEntry> out_entries_;    // per input entry
  std::vector<std::size_t> plan_entry_;  // per plan tensor: its entry
  std::vector<std::size_t> data_order_;  // entries with data, in output file order
  std::optional<PendingOutput> data_pending_, index_pending_;  // before data_: destroyed last
  File data_;
  std::optional<BufferedWriter> out_;
  std::vector<unsigned char> buf_;
  std::vector<double> wide_;
  std::size_t cur_ = 0;    // the open plan tensor
  std::uint64_t pos_ = 0;  // elements of it written so far (partitioned tensors)
};

}  // namespace

std::unique_ptr<Sink> make_tf_checkpoint_sink(const fs::path& path, const SinkOptions& options) {
  return std::make_unique<TfCheckpointSink>(path, options);
}

}  // namespace keras64::detail

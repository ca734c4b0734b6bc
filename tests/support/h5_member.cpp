// A read-only HDF5 virtual file driver over a byte range of a file (HDF5 1.10 H5FD_class_t, see
// H5FDpublic.h). Modelled on HDF5's sec2 driver, minus everything that writes.
#include "h5_member.hpp"

#include <H5FDpublic.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

namespace keras64::detail::h5 {
namespace {

struct MemberFapl {
  std::uint64_t offset;
  std::uint64_t size;
};

// HDF5 owns the H5FD_t part; the driver keeps its state after it (sec2's layout).
struct MemberFile {
  H5FD_t pub;  // must be first
  int fd;
  std::uint64_t offset;
  std::uint64_t size;
  haddr_t eoa;
  dev_t dev;
  ino_t ino;
};

void push_error(const char* func, H5E_major_t, H5E_minor_t minor, const std::string& msg) {
  H5Epush2(H5E_DEFAULT, __FILE__, func, __LINE__, H5E_ERR_CLS, H5E_VFL, minor, "%s", msg.c_str());
}

H5FD_t* member_open(const char* name, unsigned flags, hid_t fapl, haddr_t maxaddr) {
  if (flags & (H5F_ACC_RDWR | H5F_ACC_CREAT | H5F_ACC_TRUNC)) {
    push_error("member_open", H5E_VFL, H5E_CANTOPENFILE, "zip member files are read-only");
    return nullptr;
  }
  const auto* fa = static_cast<const MemberFapl*>(H5Pget_driver_info(fapl));
  if (!fa || maxaddr == 0 || maxaddr == HADDR_UNDEF) {
    push_error("member_open", H5E_VFL, H5E_BADVALUE, "no member range in the access list");
    return nullptr;
  }
  const int fd = ::open(name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    push_error("member_open", H5E_VFL, H5E_CANTOPENFILE, std::strerror(errno));
    return nullptr;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || static_cast<std::uint64_t>(st.st_size) < fa->offset ||
      static_cast<std::uint64_t>(st.st_size) - fa->offset < fa->size) {
    ::close(fd);
    push_error("member_open", H5E_VFL, H5E_CANTOPENFILE, "member range beyond end of file");
    return nullptr;
  }
  auto* f = new (std::nothrow) MemberFile{};
  if (!f) {
    ::close(fd);
    return nullptr;
  }
  f->fd = fd;
  f->offset = fa->offset;
  f->size = fa->size;
  f->eoa = 0;
  f->dev = st.st_dev;
  f->ino = st.st_ino;
  return &f->pub;
}

herr_t member_close(H5FD_t* file) {
  auto* f = reinterpret_cast<MemberFile*>(file);
  const int rc = ::close(f->fd);
  delete f;
  return rc == 0 ? 0 : -1;
}

int member_cmp(const H5FD_t* a, const H5FD_t* b) {
  const auto* f = reinterpret_cast<const MemberFile*>(a);
  const auto* g = reinterpret_cast<const MemberFile*>(b);
  if (f->dev != g->dev) return f->dev < g->dev ? -1 : 1;
  if (f->ino != g->ino) return f->ino < g->ino ? -1 : 1;
  if (f->offset != g->offset) return f->offset < g->offset ? -1 : 1;
  return 0;
}

herr_t member_query(const H5FD_t*, unsigned long* flags) {
  // What sec2 declares, minus the POSIX handle (its addresses are not the file's).
  if (flags)
    *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
             H5FD_FEAT_AGGREGATE_SMALLDATA;
  return 0;
}

haddr_t member_get_eoa(const H5FD_t* file, H5FD_mem_t) {
  return reinterpret_cast<const MemberFile*>(file)->eoa;
}

herr_t member_set_eoa(H5FD_t* file, H5FD_mem_t, haddr_t addr) {
  reinterpret_cast<MemberFile*>(file)->eoa = addr;
  return 0;
}

haddr_t member_get_eof(const H5FD_t* file, H5FD_mem_t) {
  return reinterpret_cast<const MemberFile*>(file)->size;
}

herr_t member_get_handle(H5FD_t* file, hid_t, void** handle) {
  if (!handle) return -1;
  *handle = &reinterpret_cast<MemberFile*>(file)->fd;
  return 0;
}

// Reads past the member's end give zeros, as sec2 gives past a file's end.
herr_t member_read(H5FD_t* file, H5FD_mem_t, hid_t, haddr_t addr, size_t size, void* buf) {
  auto* f = reinterpret_cast<MemberFile*>(file);
  if (addr == HADDR_UNDEF || addr + size < addr) {
    push_error("member_read", H5E_VFL, H5E_OVERFLOW, "address overflow");
    return -1;
  }
  auto* p = static_cast<unsigned char*>(buf);
  const std::uint64_t avail = addr < f->size ? f->size - addr : 0;
  std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(size, avail));
  std::uint64_t pos = f->offset + addr;
  while (n > 0) {
    const ssize_t r = ::pread(f->fd, p, n, static_cast<off_t>(pos));
    if (r < 0) {
      if (errno == EINTR) continue;
      push_error("member_read", H5E_VFL, H5E_READERROR, std::strerror(errno));
      return -1;
    }
    if (r == 0) break;
    p += r;
    pos += static_cast<std::uint64_t>(r);
    n -= static_cast<std::size_t>(r);
    size -= static_cast<std::size_t>(r);
  }
  if (size > 0) std::memset(p, 0, size);
  return 0;
}

herr_t member_write(H5FD_t*, H5FD_mem_t, hid_t, haddr_t, size_t, const void*) {
  push_error("member_write", H5E_VFL, H5E_WRITEERROR, "zip member files are read-only");
  return -1;
}

herr_t member_noop(H5FD_t*, hid_t, hbool_t) {
  return 0;
}
herr_t member_lock(H5FD_t*, hbool_t) {
  return 0;
}
herr_t member_unlock(H5FD_t*) {
  return 0;
}

const H5FD_class_t kMemberClass = {
    "keras64_member",                 // name
    (static_cast<haddr_t>(1) << 62),  // maxaddr
    H5F_CLOSE_WEAK,                   // fc_degree
    nullptr,                          // terminate
    nullptr,                          // sb_size
    nullptr,                          // sb_encode
    nullptr,                          // sb_decode
    sizeof(MemberFapl),               // fapl_size (HDF5 copies it)
    nullptr,                          // fapl_get
    nullptr,                          // fapl_copy
    nullptr,                          // fapl_free
    0,                                // dxpl_size
    nullptr,                          // dxpl_copy
    nullptr,                          // dxpl_free
    member_open,                      // open
    member_close,                     // close
    member_cmp,                       // cmp
    member_query,                     // query
    nullptr,                          // get_type_map
    nullptr,                          // alloc
    nullptr,                          // free
    member_get_eoa,                   // get_eoa
    member_set_eoa,                   // set_eoa
    member_get_eof,                   // get_eof
    member_get_handle,                // get_handle
    member_read,                      // read
    member_write,                     // write
    nullptr,                          // flush
    member_noop,                      // truncate
    member_lock,                      // lock
    member_unlock,                    // unlock
    H5FD_FLMAP_DICHOTOMY,             // fl_map
};

hid_t driver_id() {
  static std::once_flag once;
  static hid_t id = H5I_INVALID_HID;
  std::call_once(once, [] {
    silence();
    id = H5FDregister(&kMemberClass);
  });
  if (id < 0) throw Error(Errc::internal, "cannot register the HDF5 zip member driver");
  return id;
}

}  // namespace

Id open_member(const std::string& path, std::uint64_t offset, std::uint64_t size) {
  const hid_t driver = driver_id();
  {
    // The driver's own checks, made first so that io failures are Error{io} with errno.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw io_error({path}, "cannot open", errno);
    struct stat st {};
    const bool ok = ::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_size) >= offset &&
                    static_cast<std::uint64_t>(st.st_size) - offset >= size;
    ::close(fd);
    if (!ok)
      throw Error(Errc::corrupt, {path},
                  "truncated: member of " + std::to_string(size) + " bytes at offset " +
                      std::to_string(offset) + " ends beyond the file");
  }
  Id fapl(check(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate", Errc::internal));
  check(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), "H5Pset_fclose_degree", Errc::internal);
  const MemberFapl fa{offset, size};
  check(H5Pset_driver(fapl.get(), driver, &fa), "H5Pset_driver", Errc::internal);
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get());
  if (f < 0) {
    std::string detail = last_error();
    throw Error(Errc::corrupt,
                "not a readable HDF5 file" + (detail.empty() ? "" : " (" + detail + ")"));
  }
  return Id(f);
}

}  // namespace keras64::detail::h5

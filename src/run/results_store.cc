#include "run/results_store.h"

#include "io/atomic_file.h"

#include <hdf5.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <utility>
#include <type_traits>
#include <iterator>
#include <map>
#include <set>

namespace lorahub::run {
namespace {

namespace fs = std::filesystem;

constexpr int kFormatVersion = 1;

// --- HDF5 plumbing: RAII handles, every return code checked ----------------

// The top of HDF5's error stack (what failed) and, where an entry below
// quotes the system's error (e.g. "No space left on device"), that cause.
struct Hdf5Error {
  std::string top, cause;
};

herr_t collect_error(unsigned n, const H5E_error2_t* e, void* data) {
  auto* out = static_cast<Hdf5Error*>(data);
  if (!e->desc) return 0;
  const std::string desc = e->desc;
  if (n == 0) out->top = desc;
  const std::string marker = "error message = '";
  const size_t at = desc.find(marker);
  if (at != std::string::npos && out->cause.empty()) {
    const size_t from = at + marker.size();
    out->cause = desc.substr(from, desc.find('\'', from) - from);
  }
  return 0;
}

std::string hdf5_error() {
  Hdf5Error e;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error, &e);
  const std::string top = e.top.empty() ? "unknown HDF5 error" : e.top;
  return e.cause.empty() ? top : top + " (" + e.cause + ")";
}

class H5 {
 public:
  H5(hid_t id, herr_t (*close)(hid_t), const std::string& file, const std::string& what) : id_(id), close_(close) {
    if (id_ < 0) throw std::runtime_error(file + ": HDF5 " + what + ": " + hdf5_error());
  }
  ~H5() {
    if (id_ >= 0) close_(id_);
  }
  H5(H5&& other) noexcept : id_(other.id_), close_(other.close_) { other.id_ = -1; }
  H5(const H5&) = delete;
  H5& operator=(const H5&) = delete;
  operator hid_t() const { return id_; }
  // Closes now and returns HDF5's code (a destructor cannot report a
  // failed close, e.g. a file whose last write found the disk full).
  herr_t close() { return close_(std::exchange(id_, -1)); }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

struct Ctx {
  std::string file;
  void check(herr_t rc, const std::string& what) const {
    if (rc < 0) throw std::runtime_error(file + ": HDF5 " + what + ": " + hdf5_error());
  }
};

H5 vlen_string_type(const Ctx& c) {
  H5 t(H5Tcopy(H5T_C_S1), H5Tclose, c.file, "string type");
  c.check(H5Tset_size(t, H5T_VARIABLE), "string size");
  c.check(H5Tset_cset(t, H5T_CSET_UTF8), "string charset");
  return t;
}

void attr_string(const Ctx& c, hid_t loc, const char* name, const std::string& value) {
  H5 type = vlen_string_type(c);
  H5 space(H5Screate(H5S_SCALAR), H5Sclose, c.file, "scalar space");
  H5 a(H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose, c.file, std::string("attribute ") + name);
  const char* p = value.c_str();
  c.check(H5Awrite(a, type, &p), std::string("write attribute ") + name);
}

template <typename T>
void attr_number(const Ctx& c, hid_t loc, const char* name, T value, hid_t type) {
  H5 space(H5Screate(H5S_SCALAR), H5Sclose, c.file, "scalar space");
  H5 a(H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose, c.file, std::string("attribute ") + name);
  c.check(H5Awrite(a, type, &value), std::string("write attribute ") + name);
}

void dataset(const Ctx& c, hid_t loc, const char* name, hid_t type, const std::vector<hsize_t>& dims, const void* data) {
  H5 space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose, c.file, "dataspace");
  H5 d(H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose, c.file,
       std::string("create dataset ") + name);
  bool empty = false;
  for (auto n : dims) empty = empty || n == 0;
  if (!empty) c.check(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), std::string("write dataset ") + name);
}

void strings(const Ctx& c, hid_t loc, const char* name, const std::vector<std::string>& values) {
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  H5 type = vlen_string_type(c);
  dataset(c, loc, name, type, {values.size()}, ptrs.data());
}

H5 group(const Ctx& c, hid_t loc, const std::string& name) {
  return H5(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, c.file, "create group " + name);
}

// --- one trial field, by type: scalars are attributes, vectors datasets ----

void put(const Ctx& c, hid_t loc, const char* name, const std::string& v) { attr_string(c, loc, name, v); }
void put(const Ctx& c, hid_t loc, const char* name, int64_t v) { attr_number(c, loc, name, v, H5T_NATIVE_INT64); }
void put(const Ctx& c, hid_t loc, const char* name, double v) { attr_number(c, loc, name, v, H5T_NATIVE_DOUBLE); }
void put(const Ctx& c, hid_t loc, const char* name, const std::vector<std::string>& v) { strings(c, loc, name, v); }
void put(const Ctx& c, hid_t loc, const char* name, const std::vector<double>& v) {
  dataset(c, loc, name, H5T_NATIVE_DOUBLE, {v.size()}, v.data());
}
void put(const Ctx& c, hid_t loc, const char* name, const std::vector<int64_t>& v) {
  dataset(c, loc, name, H5T_NATIVE_INT64, {v.size()}, v.data());
}
void put(const Ctx& c, hid_t loc, const char* name, const std::vector<int8_t>& v) {
  dataset(c, loc, name, H5T_NATIVE_INT8, {v.size()}, v.data());
}
// Rows of equal length, as a [rows, columns] dataset.
void put(const Ctx& c, hid_t loc, const char* name, const std::vector<std::vector<double>>& v) {
  std::vector<double> flat;
  const hsize_t n = v.empty() ? 0 : v[0].size();
  for (const auto& row : v) {
    if (row.size() != n) throw std::invalid_argument(c.file + ": " + name + ": rows of different lengths");
    flat.insert(flat.end(), row.begin(), row.end());
  }
  dataset(c, loc, name, H5T_NATIVE_DOUBLE, {v.size(), n}, flat.data());
}

// The group that holds field path "a/b" (a, created or opened under the
// trial's group `g` and kept in `subgroups`; `g` itself for "b") and its leaf name.
std::pair<hid_t, std::string> place(const Ctx& c, hid_t g, const std::string& path, std::map<std::string, H5>& subgroups,
                                    bool create) {
  const auto slash = path.find('/');
  if (slash == std::string::npos) return {g, path};
  const std::string parent = path.substr(0, slash);
  auto it = subgroups.find(parent);
  if (it == subgroups.end()) {
    H5 sub = create ? group(c, g, parent) : H5(H5Gopen2(g, parent.c_str(), H5P_DEFAULT), H5Gclose, c.file, "open group " + parent);
    it = subgroups.emplace(parent, std::move(sub)).first;
  }
  return {it->second, path.substr(slash + 1)};
}

void write_trial(const Ctx& c, hid_t trials, const TrialRecord& r) {
  H5 g = group(c, trials, r.id);
  std::map<std::string, H5> subgroups;
  for_each_field(r, [&](const FieldInfo& f, const auto& value) {
    using T = std::decay_t<decltype(value)>;
    if (!*f.hdf5) return;  // the id names the group
    if constexpr (std::is_same_v<T, std::string>) {
      if (f.optional && value.empty()) return;  // an optional field is written only when set (error)
    }
    const auto [loc, leaf] = place(c, g, f.hdf5, subgroups, true);
    put(c, loc, leaf.c_str(), value);
  });
}

// /summary: one compound row per trial of the fields marked `summary` (all
// scalars: strings as variable-length strings, int64, double; 8 bytes each).
struct SummaryColumn {
  const char* name;
  hid_t type;
};
std::vector<SummaryColumn> summary_columns(hid_t str) {
  std::vector<SummaryColumn> cols;
  const TrialRecord probe;
  for_each_field(probe, [&](const FieldInfo& f, const auto& value) {
    using T = std::decay_t<decltype(value)>;
    if (!f.summary) return;
    if constexpr (std::is_same_v<T, std::string>) cols.push_back({f.json, str});
    if constexpr (std::is_same_v<T, int64_t>) cols.push_back({f.json, H5T_NATIVE_INT64});
    if constexpr (std::is_same_v<T, double>) cols.push_back({f.json, H5T_NATIVE_DOUBLE});
  });
  return cols;
}

void write_summary(const Ctx& c, hid_t file, const std::vector<TrialRecord>& records) {
  static_assert(sizeof(const char*) == 8 && sizeof(int64_t) == 8 && sizeof(double) == 8, "8-byte summary columns");
  H5 str = vlen_string_type(c);
  const auto cols = summary_columns(str);
  const size_t width = 8 * cols.size();
  H5 type(H5Tcreate(H5T_COMPOUND, width), H5Tclose, c.file, "compound type");
  for (size_t i = 0; i < cols.size(); ++i) {
    c.check(H5Tinsert(type, cols[i].name, 8 * i, cols[i].type), std::string("compound field ") + cols[i].name);
  }
  std::vector<unsigned char> rows(width * records.size());
  for (size_t row = 0; row < records.size(); ++row) {
    unsigned char* p = rows.data() + row * width;
    for_each_field(records[row], [&](const FieldInfo& f, const auto& value) {
      using T = std::decay_t<decltype(value)>;
      if (!f.summary) return;
      if constexpr (std::is_same_v<T, std::string>) {
        const char* s = value.c_str();
        std::memcpy(p, &s, 8);
      } else if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, double>) {
        std::memcpy(p, &value, 8);
      }
      p += 8;
    });
  }
  dataset(c, file, "summary", type, {records.size()}, rows.data());
}

// --- reading ---------------------------------------------------------------

std::string read_attr_string(const Ctx& c, hid_t loc, const char* name) {
  H5 a(H5Aopen(loc, name, H5P_DEFAULT), H5Aclose, c.file, std::string("open attribute ") + name);
  H5 type = vlen_string_type(c);
  char* p = nullptr;
  c.check(H5Aread(a, type, &p), std::string("read attribute ") + name);
  std::string out = p ? p : "";
  H5free_memory(p);
  return out;
}

template <typename T>
T read_attr_number(const Ctx& c, hid_t loc, const char* name, hid_t type) {
  H5 a(H5Aopen(loc, name, H5P_DEFAULT), H5Aclose, c.file, std::string("open attribute ") + name);
  T v{};
  c.check(H5Aread(a, type, &v), std::string("read attribute ") + name);
  return v;
}

template <typename T>
std::vector<T> read_numbers(const Ctx& c, hid_t loc, const char* name, hid_t type, std::vector<hsize_t>* dims_out = nullptr) {
  H5 d(H5Dopen2(loc, name, H5P_DEFAULT), H5Dclose, c.file, std::string("open dataset ") + name);
  H5 space(H5Dget_space(d), H5Sclose, c.file, "dataspace");
  const int rank = H5Sget_simple_extent_ndims(space);
  c.check(rank, std::string("rank of dataset ") + name);
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  c.check(H5Sget_simple_extent_dims(space, dims.data(), nullptr), std::string("extent of dataset ") + name);
  size_t n = 1;
  for (auto v : dims) n *= v;
  std::vector<T> out(n);
  if (n > 0) c.check(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), std::string("read dataset ") + name);
  if (dims_out) *dims_out = dims;
  return out;
}

std::vector<std::string> read_strings(const Ctx& c, hid_t loc, const char* name) {
  H5 d(H5Dopen2(loc, name, H5P_DEFAULT), H5Dclose, c.file, std::string("open dataset ") + name);
  H5 space(H5Dget_space(d), H5Sclose, c.file, "dataspace");
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  c.check(n < 0 ? -1 : 0, std::string("size of dataset ") + name);
  std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
  H5 type = vlen_string_type(c);
  if (n > 0) c.check(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), std::string("read dataset ") + name);
  std::vector<std::string> out;
  for (char* p : ptrs) out.emplace_back(p ? p : "");
  if (n > 0) c.check(H5Dvlen_reclaim(type, space, H5P_DEFAULT, ptrs.data()), "reclaim strings");
  return out;
}

bool attr_exists(const Ctx& c, hid_t loc, const char* name) {
  const htri_t has = H5Aexists(loc, name);
  c.check(has < 0 ? -1 : 0, std::string("look up attribute ") + name);
  return has > 0;
}

// An attribute or a link (dataset, group) of that name.
bool field_exists(const Ctx& c, hid_t loc, const char* name) {
  if (attr_exists(c, loc, name)) return true;
  const htri_t has = H5Lexists(loc, name, H5P_DEFAULT);
  c.check(has < 0 ? -1 : 0, std::string("look up ") + name);
  return has > 0;
}

void get(const Ctx& c, hid_t loc, const char* name, std::string& v) { v = read_attr_string(c, loc, name); }
void get(const Ctx& c, hid_t loc, const char* name, int64_t& v) { v = read_attr_number<int64_t>(c, loc, name, H5T_NATIVE_INT64); }
void get(const Ctx& c, hid_t loc, const char* name, double& v) { v = read_attr_number<double>(c, loc, name, H5T_NATIVE_DOUBLE); }
void get(const Ctx& c, hid_t loc, const char* name, std::vector<std::string>& v) { v = read_strings(c, loc, name); }
void get(const Ctx& c, hid_t loc, const char* name, std::vector<double>& v) { v = read_numbers<double>(c, loc, name, H5T_NATIVE_DOUBLE); }
void get(const Ctx& c, hid_t loc, const char* name, std::vector<int64_t>& v) {
  v = read_numbers<int64_t>(c, loc, name, H5T_NATIVE_INT64);
}
void get(const Ctx& c, hid_t loc, const char* name, std::vector<int8_t>& v) { v = read_numbers<int8_t>(c, loc, name, H5T_NATIVE_INT8); }
void get(const Ctx& c, hid_t loc, const char* name, std::vector<std::vector<double>>& v) {
  std::vector<hsize_t> dims;
  const auto flat = read_numbers<double>(c, loc, name, H5T_NATIVE_DOUBLE, &dims);
  if (dims.size() != 2) throw std::runtime_error(c.file + ": dataset " + name + ": expected 2 dimensions");
  v.clear();
  for (hsize_t i = 0; i < dims[0]; ++i) {
    v.emplace_back(flat.begin() + static_cast<long>(i * dims[1]), flat.begin() + static_cast<long>((i + 1) * dims[1]));
  }
}

herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// HDF5 prints its error stack by default; here errors come back as codes,
// which Ctx::check turns into exceptions. The caller's handler is restored
// on the way out, so a program that embeds the store keeps its own.
class QuietHdf5Errors {
 public:
  QuietHdf5Errors() {
    // Before the library's first use: no H5_term_library at exit. After a
    // failed close (a full disk) HDF5 keeps the file in its tables and its
    // exit handler crashes closing it again; the process's exit frees all.
    static const bool no_exit_handler = (H5dont_atexit(), true);
    (void)no_exit_handler;
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietHdf5Errors() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
  QuietHdf5Errors(const QuietHdf5Errors&) = delete;
  QuietHdf5Errors& operator=(const QuietHdf5Errors&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

// File access without HDF5's file locks (H5Pset_file_locking): cluster
// scratch file systems often have no POSIX locks (flock/fcntl fail with
// ENOLCK, and HDF5 then cannot create or open a file). Locks buy nothing
// here: only rank 0 writes, into a temporary file that it renames over the
// results, so no reader ever sees a file being written.
H5 no_lock_access(const std::string& file) {
  H5 fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, file, "file access list");
  Ctx{file}.check(H5Pset_file_locking(fapl, false, true), "disable file locking");
  return fapl;
}

// The results as an HDF5 file at `tmp`.
void write_file(const Ctx& c, const std::string& tmp, const RunInfo& info, const std::vector<TrialRecord>& records) {
  {
    H5 fapl = no_lock_access(tmp);
    H5 file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), H5Fclose, tmp, "create file");
    attr_number(c, file, "format_version", static_cast<int64_t>(kFormatVersion), H5T_NATIVE_INT64);
    attr_string(c, file, "config", info.config_text);
    attr_string(c, file, "config_hash", info.config_hash);
    attr_string(c, file, "model_family", info.model_family);
    attr_string(c, file, "command_line", info.command_line);
    attr_number(c, file, "world_size", info.world_size, H5T_NATIVE_INT64);
    attr_string(c, file, "created", info.created);
    attr_string(c, file, "updated", now_iso());
    write_summary(c, file, records);
    {
      H5 trials = group(c, file, "trials");
      for (const auto& r : records) write_trial(c, trials, r);
    }
    c.check(H5Fflush(file, H5F_SCOPE_GLOBAL), "flush");
    c.check(file.close(), "close file");
  }
}

// A journal whose last line has no newline ends in a record cut by a kill or
// a full disk: it was never reported done. It is cut off, so that the next
// record starts a line of its own.
void cut_after_last_line(const std::string& journal) {
  // Read from the end only: a journal of a long sweep holds every trial's history.
  std::ifstream in(journal, std::ios::binary | std::ios::ate);
  const std::streamoff end = in.tellg();
  std::streamoff keep = 0;
  char chunk[4096];
  for (std::streamoff stop = end; stop > 0 && keep == 0;) {
    const std::streamoff from = std::max<std::streamoff>(0, stop - static_cast<std::streamoff>(sizeof(chunk)));
    in.seekg(from);
    in.read(chunk, stop - from);
    for (std::streamoff i = stop - from; i > 0 && keep == 0; --i) {
      if (chunk[i - 1] == '\n') keep = from + i;
    }
    stop = from;
  }
  if (end <= 0 || keep == end) return;
  if (::truncate(journal.c_str(), static_cast<off_t>(keep)) != 0) {
    throw std::runtime_error(journal + ": cannot cut its unfinished last line: " + std::strerror(errno));
  }
}

}  // namespace

void write_results_h5(const std::string& path, const RunInfo& info, const std::vector<TrialRecord>& records) {
  const QuietHdf5Errors quiet;
  const std::string tmp = io::temporary_path(path);
  const Ctx c{path};
  try {
    write_file(c, tmp, info, records);
  } catch (...) {
    std::remove(tmp.c_str());  // never leave a partial file behind
    throw;
  }
  io::commit_temporary(tmp, path);
}


std::vector<TrialRecord> read_results_h5(const std::string& path, RunInfo* info) {
  const QuietHdf5Errors quiet;
  const Ctx c{path};
  H5 fapl = no_lock_access(path);
  H5 file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl), H5Fclose, path, "open file");
  if (read_attr_number<int64_t>(c, file, "format_version", H5T_NATIVE_INT64) != kFormatVersion) {
    throw std::runtime_error(path + ": results format version differs from this build's (" +
                             std::to_string(kFormatVersion) + ")");
  }
  if (info) {
    info->config_text = read_attr_string(c, file, "config");
    info->config_hash = read_attr_string(c, file, "config_hash");
    if (attr_exists(c, file, "model_family")) info->model_family = read_attr_string(c, file, "model_family");
    info->command_line = read_attr_string(c, file, "command_line");
    info->world_size = read_attr_number<int64_t>(c, file, "world_size", H5T_NATIVE_INT64);
    info->created = read_attr_string(c, file, "created");
  }
  H5 trials(H5Gopen2(file, "trials", H5P_DEFAULT), H5Gclose, path, "open group trials");
  std::vector<std::string> ids;
  c.check(H5Literate(trials, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_name, &ids), "list trials");
  std::vector<TrialRecord> out;
  for (const auto& id : ids) {
    H5 g(H5Gopen2(trials, id.c_str(), H5P_DEFAULT), H5Gclose, path, "open trial " + id);
    TrialRecord r;
    r.id = id;
    std::map<std::string, H5> subgroups;
    for_each_field(r, [&](const FieldInfo& f, auto& value) {
      if (!*f.hdf5) return;
      const auto [loc, leaf] = place(c, g, f.hdf5, subgroups, false);
      if (f.optional && !field_exists(c, loc, leaf.c_str())) return;
      get(c, loc, leaf.c_str(), value);
    });
    out.push_back(std::move(r));
  }
  return out;
}

ResultsStore::ResultsStore(std::string path, RunInfo info, bool resume, double flush_interval_s)
    : path_(std::move(path)), info_(std::move(info)), flush_interval_s_(flush_interval_s),
      last_flush_(std::chrono::steady_clock::now()) {
  const std::string journal = path_ + ".journal";
  const bool have_file = fs::exists(path_), have_journal = fs::exists(journal);
  if (!resume && (have_file || have_journal)) {
    throw std::invalid_argument(path_ + ": results file exists; pass --resume to continue it or choose another --output");
  }
  if (info_.created.empty()) info_.created = now_iso();
  if (have_file) {
    RunInfo old;
    std::vector<TrialRecord> saved;
    try {
      saved = read_results_h5(path_, &old);
    } catch (const std::runtime_error& e) {
      if (!have_journal) throw;
      // Every finished trial is in the journal: the file can be rebuilt from it.
      throw std::runtime_error(std::string(e.what()) + "; " + journal + " holds every finished trial: move " + path_ +
                               " away and rerun with --resume to rebuild it from the journal");
    }
    for (auto& r : saved) records_.emplace(r.id, std::move(r));
    if (old.config_hash != info_.config_hash) {
      throw std::invalid_argument(path_ + ": written by another config (hash " + old.config_hash + ", this config " +
                                  info_.config_hash + "); resume with the same config or choose another --output");
    }
    info_.created = old.created;
  }
  std::set<std::string> in_journal;
  if (have_journal) {
    in_journal = read_journal(journal);
    dirty_ = true;
  }
  if (!have_journal || fs::file_size(journal) == 0) {  // new, or nothing but a cut line
    std::ofstream out(journal, std::ios::app);
    out << nlohmann::json{{"config_hash", info_.config_hash}}.dump() << "\n";
    if (!out) throw std::runtime_error(journal + ": cannot write");
  }
  // Every finished trial is in the journal: one that only the file holds
  // (its line cut by a kill or a full disk, or the journal lost) is written again.
  for (const auto& [id, r] : records_) {
    if (!in_journal.count(id)) append_journal(r);
  }
  if (!have_file || dirty_) flush();
}

std::set<std::string> ResultsStore::read_journal(const std::string& journal) {
  cut_after_last_line(journal);
  std::ifstream in(journal);
  std::string line;
  std::set<std::string> ids;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      continue;  // a line cut by a kill mid-append (journals of earlier versions): that trial was not reported done
    }
    if (j.contains("config_hash")) {
      if (j["config_hash"] != info_.config_hash) {
        throw std::invalid_argument(journal + ":" + std::to_string(n) + ": written by another config (hash " +
                                    j["config_hash"].get<std::string>() + ", this config " + info_.config_hash + ")");
      }
      continue;
    }
    TrialRecord r;
    try {
      r = record_from_json(j);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(journal + ":" + std::to_string(n) + ": " + e.what() +
                                  "; mend or delete that line (its trial is then run again) and rerun with --resume");
    }
    ids.insert(r.id);
    records_[r.id] = std::move(r);
  }
  return ids;
}

ResultsStore::~ResultsStore() {
  try {
    if (dirty_) flush();
  } catch (...) {
    // the journal keeps every trial; the next --resume rebuilds the file
  }
}

void ResultsStore::append_journal(const TrialRecord& record) {
  const std::string journal = path_ + ".journal";
  const std::string line = to_json(record).dump() + "\n";
  const int fd = ::open(journal.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (fd < 0) throw std::runtime_error(journal + ": cannot open for append: " + std::strerror(errno));
  const off_t before = ::lseek(fd, 0, SEEK_END);
  const ssize_t n = ::write(fd, line.data(), line.size());
  int error = n < 0 ? errno : n != static_cast<ssize_t>(line.size()) ? ENOSPC : 0;  // a short write: the disk is full
  if (error == 0 && ::fsync(fd) != 0) error = errno;
  if (error != 0 && before >= 0) (void)::ftruncate(fd, before);  // no cut line left behind
  ::close(fd);
  if (error != 0) {
    throw std::runtime_error(journal + ": cannot append trial " + record.id + ": " + std::strerror(error) +
                             " (the trials before it are kept; make room and continue with --resume)");
  }
}

int64_t ResultsStore::failed() const {
  int64_t n = 0;
  for (const auto& [id, r] : records_) n += r.status == "failed";
  return n;
}

void ResultsStore::add(const TrialRecord& record) {
  append_journal(record);
  records_[record.id] = record;
  dirty_ = true;
  const double since = std::chrono::duration<double>(std::chrono::steady_clock::now() - last_flush_).count();
  if (since >= flush_interval_s_) flush();
}

void ResultsStore::flush() {
  std::vector<TrialRecord> all;
  for (const auto& [id, r] : records_) all.push_back(r);
  try {
    write_results_h5(path_, info_, all);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string(e.what()) + "; every finished trial is in " + path_ +
                             ".journal: fix the cause and continue with --resume");
  }
  dirty_ = false;
  last_flush_ = std::chrono::steady_clock::now();
}

}  // namespace lorahub::run

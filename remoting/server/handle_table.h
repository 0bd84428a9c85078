// HandleTable<H>: the session's own objects of one kind (streams, events, modules, ...), keyed by the
// u64 ids that travel on the wire. An id the session was never given, or gave back, is not found:
// the worker answers CUDA_ERROR_INVALID_HANDLE and never passes a forged handle to the backend.
//
// Ids come from one counter shared by every table of a session (IdSource), so an event id used as
// a stream is not found either. Ids start above the stream sentinels 0, 1 and 2.
//
// Thread-safety: none; a session worker is single-threaded.
#pragma once

#include <cstdint>
#include <map>
#include <optional>

namespace gpupool::server {

class IdSource {
 public:
  std::uint64_t Next() { return next_++; }

 private:
  std::uint64_t next_ = 0x1000;
};

template <typename H>
class HandleTable {
 public:
  explicit HandleTable(IdSource* ids) : ids_(ids) {}

  std::uint64_t Add(H handle) {
    // The same driver object (a primary context retained twice, a function looked up twice) keeps
    // its id, so the client's handle comparisons mean what they mean natively.
    auto known = by_handle_.find(handle);
    if (known != by_handle_.end()) return known->second;
    std::uint64_t id = ids_->Next();
    by_id_.emplace(id, handle);
    by_handle_.emplace(handle, id);
    return id;
  }
  std::optional<H> Find(std::uint64_t id) const {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return std::nullopt;
    return it->second;
  }
  // The id of a handle the backend returned (e.g. cuFuncGetModule), adding it when new.
  std::uint64_t IdOf(H handle) { return Add(handle); }
  bool Remove(std::uint64_t id) {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return false;
    by_handle_.erase(it->second);
    by_id_.erase(it);
    return true;
  }
  const std::map<std::uint64_t, H>& all() const { return by_id_; }
  void Clear() {
    by_id_.clear();
    by_handle_.clear();
  }

 private:
  IdSource* ids_;
  std::map<std::uint64_t, H> by_id_;
  std::map<H, std::uint64_t> by_handle_;
};

}  // namespace gpupool::server

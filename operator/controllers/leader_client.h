// LeaderOnlyClient: a kube::Client whose writes (create, update, patch, delete) succeed only while
// this replica holds the Lease; reads always pass. The controllers write through it, so a replica
// that has lost the lease cannot write even from a reconcile that was already running when it
// lost it (ARCHITECTURE §4.3: only the Lease holder writes).
//
// Thread-safety: as the wrapped client; the flag is atomic.
#pragma once

#include <atomic>

#include "common/kube/client.h"

namespace gpupool::controllers {

class LeaderOnlyClient final : public kube::Client {
 public:
  LeaderOnlyClient(kube::Client& inner, const std::atomic<bool>& leading)
      : inner_(inner), leading_(leading) {}

  Result<kube::Json> Get(const kube::Resource& r, std::string_view ns, std::string_view name) override {
    return inner_.Get(r, ns, name);
  }
  Result<kube::Json> List(const kube::Resource& r, std::string_view ns, const kube::ListOptions& o) override {
    return inner_.List(r, ns, o);
  }
  Result<std::unique_ptr<kube::WatchStream>> Watch(const kube::Resource& r, std::string_view ns,
                                                   const kube::ListOptions& o) override {
    return inner_.Watch(r, ns, o);
  }
  Result<kube::Json> Create(const kube::Resource& r, std::string_view ns, const kube::Json& obj) override {
    GPUPOOL_RETURN_IF_ERROR(Check());
    return inner_.Create(r, ns, obj);
  }
  Result<kube::Json> Update(const kube::Resource& r, const kube::Json& obj) override {
    GPUPOOL_RETURN_IF_ERROR(Check());
    return inner_.Update(r, obj);
  }
  Result<kube::Json> UpdateStatus(const kube::Resource& r, const kube::Json& obj) override {
    GPUPOOL_RETURN_IF_ERROR(Check());
    return inner_.UpdateStatus(r, obj);
  }
  Result<kube::Json> Patch(const kube::Resource& r, std::string_view ns, std::string_view name,
                           kube::PatchType type, const kube::Json& patch,
                           std::string_view sub = "") override {
    GPUPOOL_RETURN_IF_ERROR(Check());
    return inner_.Patch(r, ns, name, type, patch, sub);
  }
  Result<kube::Json> Delete(const kube::Resource& r, std::string_view ns, std::string_view name,
                            const kube::DeleteOptions& o = {}) override {
    GPUPOOL_RETURN_IF_ERROR(Check());
    return inner_.Delete(r, ns, name, o);
  }

 private:
  Status Check() const {
    return leading_.load() ? Status::Ok() : Status::Cancelled("not the leader: writes are refused");
  }
  kube::Client& inner_;
  const std::atomic<bool>& leading_;
};

}  // namespace gpupool::controllers

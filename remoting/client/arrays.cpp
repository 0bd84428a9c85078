#include "remoting/client/arrays.h"

namespace gpupool::client {

ArrayTable& ArrayTable::Get() {
  static ArrayTable* table = new ArrayTable();  // never destroyed: exit-time calls may still use it
  return *table;
}

CUarray ArrayTable::Add(std::unique_ptr<Array> array) {
  const std::uint64_t id = array->id;
  auto handle = reinterpret_cast<CUarray>(registry_.Add(std::move(array)));
  std::lock_guard<std::mutex> lock(mu_);
  by_id_[id] = handle;
  return handle;
}

CUarray ArrayTable::ById(std::uint64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

void ArrayTable::Retire(CUarray handle) {
  Array* array = registry_.Find(handle);
  if (array == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    by_id_.erase(array->id);
  }
  registry_.Retire(handle);
}

CUmipmappedArray ArrayTable::AddMipmap(std::unique_ptr<MipmappedArray> mipmap) {
  const std::uint64_t id = mipmap->id;
  auto handle = reinterpret_cast<CUmipmappedArray>(mipmaps_.Add(std::move(mipmap)));
  std::lock_guard<std::mutex> lock(mu_);
  mipmaps_by_id_[id] = handle;
  return handle;
}

CUmipmappedArray ArrayTable::MipmapById(std::uint64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = mipmaps_by_id_.find(id);
  return it == mipmaps_by_id_.end() ? nullptr : it->second;
}

void ArrayTable::RetireMipmap(CUmipmappedArray handle) {
  MipmappedArray* mipmap = mipmaps_.Find(handle);
  if (mipmap == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(mipmap->mu);
    for (const auto& [level, array] : mipmap->levels) Retire(array);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    mipmaps_by_id_.erase(mipmap->id);
  }
  mipmaps_.Retire(handle);
}

}  // namespace gpupool::client

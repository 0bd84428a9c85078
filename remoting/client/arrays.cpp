#include "remoting/client/arrays.h"

namespace gpupool::client {

ArrayTable& ArrayTable::Get() {
  static ArrayTable* table = new ArrayTable();  // never destroyed: exit-time calls may still use it
  return *table;
}

void ArrayTable::RetireMipmap(CUmipmappedArray handle) {
  MipmappedArray* mipmap = mipmaps.Find(handle);
  if (mipmap == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(mipmap->mu);
    for (const auto& [level, array] : mipmap->levels) arrays.Retire(array);
  }
  mipmaps.Retire(handle);
}

}  // namespace gpupool::client

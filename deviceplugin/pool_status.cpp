#include "deviceplugin/pool_status.h"

namespace gpupool::deviceplugin {
namespace {

// Index-based access only: GCC's -Wnull-dereference misfires on nlohmann iterators at -O2.
bool IsTrue(const nlohmann::json& object, const char* key) {
  return object.is_object() && object.contains(key) && object.at(key).is_boolean() &&
         object.at(key).get<bool>();
}

}  // namespace

Result<bool> AnyHealthyGpu(const nlohmann::json& pool) {
  if (!pool.is_object()) return Status::InvalidArgument("GPUPool is not a JSON object");
  if (!pool.contains("status") || pool.at("status").is_null()) return false;
  const nlohmann::json& status = pool.at("status");
  if (!status.is_object()) return Status::InvalidArgument("GPUPool status is not an object");
  if (!status.contains("gpus") || status.at("gpus").is_null()) return false;
  const nlohmann::json& gpus = status.at("gpus");
  if (!gpus.is_array()) return Status::InvalidArgument("GPUPool status.gpus is not a list");
  for (std::size_t i = 0; i < gpus.size(); ++i) {
    if (!gpus.at(i).is_object()) return Status::InvalidArgument("GPUPool status.gpus has a non-object entry");
    if (IsTrue(gpus.at(i), "healthy")) return true;
  }
  return false;
}

Result<std::string> DefaultPoolName(const nlohmann::json& list) {
  if (!list.is_object() || !list.contains("items") || !list.at("items").is_array())
    return Status::InvalidArgument("GPUPoolList has no items list");
  const nlohmann::json& items = list.at("items");
  for (std::size_t i = 0; i < items.size(); ++i) {
    const nlohmann::json& item = items.at(i);
    if (!item.is_object() || !item.contains("spec") || !IsTrue(item.at("spec"), "default")) continue;
    if (item.contains("metadata") && item.at("metadata").is_object() &&
        item.at("metadata").contains("name") && item.at("metadata").at("name").is_string())
      return item.at("metadata").at("name").get<std::string>();
  }
  return Status::NotFound("no GPUPool has spec.default: true");
}

}  // namespace gpupool::deviceplugin

#include "operator/placement/request.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "common/binding/binding.h"
#include "operator/placement/json_at.h"

namespace gpupool::placement {
namespace {

using nlohmann::json;

// Extended resources are whole numbers: Kubernetes refuses fractions, so "1", 1 and "1k"-free
// decimal strings are all we accept. -1 means absent.
Result<std::int64_t> Quantity(const json& list, std::string_view resource, const std::string& where) {
  if (!list.is_object()) return std::int64_t{-1};
  auto it = list.find(std::string(resource));
  if (it == list.end()) return std::int64_t{-1};
  const std::string name = where + " " + std::string(resource);
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (!it->is_string()) return Status::InvalidArgument(name + ": quantity is not a number");
  const std::string& s = it->get_ref<const std::string&>();
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) {
    return Status::InvalidArgument(name + ": quantity \"" + s + "\" is not a whole number");
  }
  return v;
}

struct Asked {
  std::int64_t gpus = -1, percent = -1, memory = -1;
};

// Limits win over requests for the same resource (for extended resources they must be equal anyway).
Result<Asked> AskedBy(const json& container, const std::string& where) {
  Asked a;
  const json& res = JsonAt(container, "resources");
  for (const char* section : {"requests", "limits"}) {
    const json& list = JsonAt(res, section);
    GPUPOOL_ASSIGN_OR_RETURN(std::int64_t g, Quantity(list, kResourceGpu, where));
    GPUPOOL_ASSIGN_OR_RETURN(std::int64_t p, Quantity(list, kResourcePercent, where));
    GPUPOOL_ASSIGN_OR_RETURN(std::int64_t m, Quantity(list, kResourceMemory, where));
    if (g >= 0) a.gpus = g;
    if (p >= 0) a.percent = p;
    if (m >= 0) a.memory = m;
  }
  return a;
}

}  // namespace

std::uint64_t MemoryOnGpu(const Request& request, std::uint64_t gpu_memory_bytes) {
  if (request.memory_gib) return *request.memory_gib << 30;
  return gpu_memory_bytes / 100 * static_cast<std::uint64_t>(request.percent);
}

Result<std::optional<Request>> RequestFromPod(const nlohmann::json& pod) {
  if (!JsonAt(pod, "spec").is_object()) {
    return Status::InvalidArgument("pod has no spec");
  }
  const json& spec = JsonAt(pod, "spec");
  Asked total;
  bool any = false;
  for (const char* kind : {"initContainers", "containers"}) {
    if (!JsonAt(spec, kind).is_array()) continue;
    for (const json& c : JsonAt(spec, kind)) {
      const std::string where =
          std::string(kind == std::string("containers") ? "container " : "init container ") +
          (JsonAt(c, "name").is_string() ? JsonAt(c, "name").get<std::string>() : "?");
      GPUPOOL_ASSIGN_OR_RETURN(Asked a, AskedBy(c, where));
      if (a.gpus < 0 && a.percent < 0 && a.memory < 0) continue;
      any = true;
      if (a.gpus == 0 && (a.percent >= 0 || a.memory >= 0)) {
        return Status::InvalidArgument(where + ": gpupool.io/gpu is 0 but gpu-percent or gpu-memory is set");
      }
      if (a.percent >= 0 && (a.percent < 1 || a.percent > 100)) {
        return Status::InvalidArgument(where + ": gpupool.io/gpu-percent is " + std::to_string(a.percent) +
                                       ", must be 1..100");
      }
      if (a.memory == 0) return Status::InvalidArgument(where + ": gpupool.io/gpu-memory is 0 GiB");
      if (a.gpus > 64) {
        return Status::InvalidArgument(where + ": gpupool.io/gpu is " + std::to_string(a.gpus) +
                                       ", more than 64 GPUs per pod");
      }
      total.gpus = std::max(total.gpus, a.gpus);
      total.percent = std::max(total.percent, a.percent);
      total.memory = std::max(total.memory, a.memory);
    }
  }
  if (!any || total.gpus == 0) return std::optional<Request>();
  Request r;
  r.gpus = total.gpus < 0 ? 1 : static_cast<int>(total.gpus);
  r.percent = total.percent < 0 ? 100 : static_cast<int>(total.percent);
  if (total.memory > 0) r.memory_gib = static_cast<std::uint64_t>(total.memory);
  const json& locality = JsonAt(JsonAt(JsonAt(pod, "metadata"), "annotations"), kLocalityAnnotation.data());
  const std::string where = locality.is_string() ? locality.get<std::string>() : "";
  if (where != "" && where != "any" && where != "node") {
    return Status::InvalidArgument("annotation gpupool.io/locality is '" + where + "', must be node or any");
  }
  r.node_local = where == "node";
  const json& pinned = JsonAt(JsonAt(spec, "nodeSelector"), kHostnameLabel.data());
  if (r.node_local && pinned.is_string()) r.pinned_node = pinned.get<std::string>();
  return std::optional<Request>(r);
}

std::string PoolOfPod(const nlohmann::json& pod) {
  const json& pool = JsonAt(JsonAt(JsonAt(pod, "metadata"), "annotations"), kPoolAnnotation.data());
  return pool.is_string() ? pool.get<std::string>() : "";
}

}  // namespace gpupool::placement

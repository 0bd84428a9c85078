#include "remoting/client/local_server.h"

#include <sys/stat.h>

#include <algorithm>
#include <optional>
#include <tuple>
#include <vector>

#include "common/gpu_uuid.h"
#include "common/local_gpu_list.h"
#include "common/log.h"
#include "common/read_file.h"
#include "remoting/client/rpc.h"
#include "remoting/protocol/result_names.h"

namespace gpupool::client {
namespace {

using protocol::Op;

Status CallFailed(const char* call, CUresult result) {
  const char* name = protocol::ResultName(static_cast<std::uint32_t>(result));
  return Status::Unavailable(std::string(call) + " failed: " + (name != nullptr ? name : "unknown CUresult"));
}

// Whether the session's server shows the session the GPU `uuid`; `seen` lists what it showed.
Result<bool> ServesGpu(Session* session, const std::string& uuid, std::string* seen) {
  protocol::Call<Op::DeviceGetCount>::Reply count;
  CUresult r = RpcOn<Op::DeviceGetCount>(session, 0, {}, &count);
  if (r != CUDA_SUCCESS) return CallFailed("cuDeviceGetCount", r);
  for (int i = 0; i < std::get<0>(count); ++i) {
    protocol::Call<Op::DeviceGetUuid>::Reply reply;
    r = RpcOn<Op::DeviceGetUuid>(session, 0, {i}, &reply);
    if (r != CUDA_SUCCESS) return CallFailed("cuDeviceGetUuid", r);
    const std::string name = FormatGpuUuid(std::get<0>(reply));
    if (SameGpuUuid(name, uuid)) return true;
    *seen += (seen->empty() ? "" : ", ") + name;
  }
  return false;
}

// The GPUs the server lists next to its socket (common/local_gpu_list.h); nullopt when it lists none
// readable, and the server must be asked.
std::optional<std::vector<std::string>> ListedGpus(const std::string& socket_path) {
  auto text = ReadTextFile(LocalGpuListPath(socket_path));
  if (!text.ok()) return std::nullopt;
  auto uuids = ParseLocalGpuList(*text);
  if (!uuids.ok()) {
    GPUPOOL_LOG(kDebug) << "ignoring the GPU list next to " << socket_path << ": "
                        << uuids.status().ToString();
    return std::nullopt;
  }
  return *uuids;
}

}  // namespace

Result<std::unique_ptr<Session>> OpenLocalSession(const ServerAddress& address) {
  struct stat st {};
  if (::stat(address.local_socket.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode))
    return Status::NotFound(address.local_socket + " is not a socket");
  // A server that lists its GPUs without the bound one is not asked at all: no handshake, no
  // TokenReview, no refused session on it. A listed GPU is still checked over the session below.
  if (auto listed = ListedGpus(address.local_socket)) {
    auto bound = [&address](const std::string& uuid) { return SameGpuUuid(uuid, address.gpu_uuid); };
    if (std::none_of(listed->begin(), listed->end(), bound)) {
      std::string names;
      for (const std::string& uuid : *listed) names += (names.empty() ? "" : ", ") + uuid;
      return Status::FailedPrecondition("its server lists " +
                                        (names.empty() ? std::string("no GPU") : names) + ", not " +
                                        address.gpu_uuid);
    }
  }
  ServerAddress local = address;  // the same credentials: the server checks them as over TCP
  local.endpoint = Endpoint{};
  local.endpoint.kind = Endpoint::Kind::kUnix;
  local.endpoint.path = address.local_socket;
  local.use_tls = false;
  // Asked before the copy ring: no memory is shared with a server that is not the bound one. A
  // refused connection ends here, and its worker ends when it sees the connection close.
  return Session::Open(local, [&address](Session& session) -> Status {
    std::string seen;
    GPUPOOL_ASSIGN_OR_RETURN(bool serves, ServesGpu(&session, address.gpu_uuid, &seen));
    if (serves) return Status::Ok();
    return Status::FailedPrecondition("its server serves " + (seen.empty() ? std::string("no GPU") : seen) +
                                      ", not " + address.gpu_uuid);
  });
}

Result<std::unique_ptr<Session>> OpenBoundSession(const ServerAddress& address) {
  if (address.local_socket.empty() || address.gpu_uuid.empty()) return Session::Open(address);
  auto local = OpenLocalSession(address);
  if (local.ok()) {
    GPUPOOL_LOG(kDebug) << address.gpu_uuid << ": local server at " << address.local_socket << " ("
                        << ((*local)->copy_ring() != nullptr ? "copy ring" : "no copy ring") << ")";
    return local;
  }
  GPUPOOL_LOG(kDebug) << address.gpu_uuid << ": " << address.endpoint.ToString() << " (not the local socket "
                      << address.local_socket << ": " << local.status().message() << ")";
  return Session::Open(address);
}

}  // namespace gpupool::client

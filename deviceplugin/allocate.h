// What Allocate answers: node-level injection only, the same for every container (kubelet does not
// say which pod it serves; the client library finds its binding through GPUPOOL_POD_INFO). No network
// call happens here; the only file access is one stat() of --local-socket, so Allocate stays as fast
// as the RPC itself.
//
//   mount  <client-lib-dir> -> /opt/gpupool/lib, read-only
//   env    LD_LIBRARY_PATH=/opt/gpupool/lib, GPUPOOL_POD_INFO=/etc/gpupool/pod/annotations
//   cdi    <cdi-kind>=client, only when --cdi-kind is set (for runtimes that use CDI)
//   mount  <folder of local-socket> -> /run/gpupool, read-only, and
//   env    GPUPOOL_LOCAL_SOCKET=/run/gpupool/<socket name>, only while --local-socket is a socket: the
//          node's own server, which the client uses only for a bound GPU it proves to serve
//          (remoting/client/local_server.h); it authenticates the pod's token as over TCP.
//
// Thread-safety: pure functions.
#pragma once

#include <set>
#include <string>

#include "common/status.h"
#include "deviceplugin/config.h"
#include "deviceplugin/v1beta1/api.pb.h"

namespace gpupool::deviceplugin {

inline constexpr const char* kContainerLibDir = "/opt/gpupool/lib";
inline constexpr const char* kPodInfoPath = "/etc/gpupool/pod/annotations";
inline constexpr const char* kContainerLocalSocketDir = "/run/gpupool";

// Fills one ContainerAllocateResponse per ContainerAllocateRequest. Any device ID not in `known`
// fails the whole request with InvalidArgument naming it (kubelet then rejects the pod).
Result<v1beta1::AllocateResponse> BuildAllocateResponse(const v1beta1::AllocateRequest& request,
                                                        const std::set<std::string>& known,
                                                        const std::string& resource_name,
                                                        const Config& config);

}  // namespace gpupool::deviceplugin

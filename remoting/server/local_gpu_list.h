// The broker's side of common/local_gpu_list.h: publishes the server's GPU UUIDs next to its --unix
// socket, atomically (a temporary file renamed into place, mode 0644), and withdraws them at shutdown.
//
// Thread-safety: functions over the file system; call Publish from one thread.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace gpupool::server {

Status PublishLocalGpuList(const std::string& socket_path, const std::vector<std::string>& uuids);
void WithdrawLocalGpuList(const std::string& socket_path);

}  // namespace gpupool::server

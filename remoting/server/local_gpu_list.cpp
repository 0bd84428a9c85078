#include "remoting/server/local_gpu_list.h"

#include <unistd.h>

#include "common/local_gpu_list.h"
#include "common/replace_file.h"

namespace gpupool::server {

Status PublishLocalGpuList(const std::string& socket_path, const std::vector<std::string>& uuids) {
  return ReplaceFile(LocalGpuListPath(socket_path), FormatLocalGpuList(uuids));
}

void WithdrawLocalGpuList(const std::string& socket_path) {
  ::unlink(LocalGpuListPath(socket_path).c_str());
}

}  // namespace gpupool::server

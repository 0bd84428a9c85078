#include "remoting/server/local_gpu_list.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/local_gpu_list.h"

namespace gpupool::server {

Status PublishLocalGpuList(const std::string& socket_path, const std::vector<std::string>& uuids) {
  const std::string path = LocalGpuListPath(socket_path);
  const std::string temporary = path + ".new";
  const std::string text = FormatLocalGpuList(uuids);
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return Status::Internal("creating " + temporary + ": " + std::strerror(errno));
  // Readable by the pods the folder is mounted into, whatever the umask.
  bool ok =
      ::fchmod(fd, 0644) == 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int error = errno;
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(temporary.c_str(), path.c_str()) != 0) {
    const int why = ok ? errno : error;
    ::unlink(temporary.c_str());
    return Status::Internal("writing " + path + ": " + std::strerror(why));
  }
  return Status::Ok();
}

void WithdrawLocalGpuList(const std::string& socket_path) {
  ::unlink(LocalGpuListPath(socket_path).c_str());
}

}  // namespace gpupool::server

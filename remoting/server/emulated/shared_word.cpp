// SharedWord: a memfd page mapped shared.
#include "remoting/server/emulated/shared_word.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace gpupool::server::emulated {
namespace {

constexpr std::size_t kPage = 4096;

}  // namespace

std::unique_ptr<SharedWord> SharedWord::Adopt(int fd) {
  void* page = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (page == MAP_FAILED) {
    close(fd);
    return nullptr;
  }
  return std::unique_ptr<SharedWord>(new SharedWord(fd, static_cast<std::uint64_t*>(page)));
}

std::unique_ptr<SharedWord> SharedWord::Create() {
  const int fd = memfd_create("gpupool-emulated-event", MFD_CLOEXEC);
  if (fd < 0) return nullptr;
  if (ftruncate(fd, kPage) != 0) {
    close(fd);
    return nullptr;
  }
  return Adopt(fd);  // a new memfd reads as zeros
}

std::unique_ptr<SharedWord> SharedWord::Open(pid_t pid, int fd) {
  const int own = OpenForeignDescriptor(pid, fd);
  if (own < 0) return nullptr;
  struct stat st {};
  // Exactly a page: anything else is not an event's word (and could be shorter than the mapping).
  if (fstat(own, &st) != 0 || st.st_size != static_cast<off_t>(kPage)) {
    close(own);
    return nullptr;
  }
  return Adopt(own);
}

SharedWord::~SharedWord() {
  munmap(word_, kPage);
  close(fd_);
}

int OpenForeignDescriptor(pid_t pid, int fd) {
  const std::string path = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
  return open(path.c_str(), O_RDWR | O_CLOEXEC);
}

}  // namespace gpupool::server::emulated

// SharedWord: one 64-bit atomic in a page of a memfd, which another process of the same user can map
// too (by /proc/<pid>/fd/<fd> of the process that made it). An interprocess event's completion time
// lives in one, so that the processes that opened the event see every record (ipc.cpp).
//
// Thread-safety: the word is atomic; the object itself is not shared between threads.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>

namespace gpupool::server::emulated {

class SharedWord {
 public:
  // A new word, 0. Null when the memfd or the mapping cannot be made.
  static std::unique_ptr<SharedWord> Create();
  // The word process `pid` made, through its descriptor `fd`. Null when that process or descriptor
  // is gone, or is not a SharedWord's.
  static std::unique_ptr<SharedWord> Open(pid_t pid, int fd);
  ~SharedWord();
  SharedWord(const SharedWord&) = delete;
  SharedWord& operator=(const SharedWord&) = delete;

  std::atomic_ref<std::uint64_t> value() { return std::atomic_ref<std::uint64_t>(*word_); }
  int fd() const { return fd_; }

 private:
  SharedWord(int fd, std::uint64_t* word) : fd_(fd), word_(word) {}
  // Maps the first page of `fd`, which the object then owns (closed on failure too).
  static std::unique_ptr<SharedWord> Adopt(int fd);
  int fd_;
  std::uint64_t* word_;
};

// Opens another process's descriptor `fd` read-write (/proc/<pid>/fd/<fd>), close-on-exec; -1 when it
// cannot.
int OpenForeignDescriptor(pid_t pid, int fd);

}  // namespace gpupool::server::emulated

// The driver's error log behind cuLogs* (CUDA 12.9): every warning and error the client logs
// (common/log.h's observer: an unsupported or refused call by name, once; an asynchronous error
// reported at a synchronisation; a lost server connection; ...) kept as a line
// "[HH:MM:SS.mmm][thread id][gpupool][E|W] message", numbered from 0, at most kCapacity bytes of
// lines (CUDA's documented limit; the oldest are dropped first), and fed to the registered callbacks.
// An iterator (CUlogIterator) is the number of the next line to read; dumps advance it.
//
// Thread-safety: every member may be called from any thread. Callbacks run on the thread that logs,
// with no lock held, so a callback may register or unregister callbacks; a line logged while that
// thread is inside a callback is kept but not delivered to callbacks (no recursion). A callback that
// another thread is already calling may finish after Unregister returns (the entry stays valid).
#pragma once

#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.h"

namespace gpupool::client {

class DriverLog {
 public:
  static constexpr std::size_t kCapacity = 25600;   // bytes of lines, newlines included
  static constexpr std::size_t kMaxMessage = 1024;  // longer messages are cut

  DriverLog();
  ~DriverLog();
  DriverLog(const DriverLog&) = delete;
  DriverLog& operator=(const DriverLog&) = delete;

  // The process's log (never destroyed), which Install() makes common/log.h's observer.
  static DriverLog& Process();
  static void Install();

  void Add(LogLevel level, std::string_view message);

  // cuLogs* with their documented results (cuda.h, "Error Log Management Functions").
  CUresult Register(CUlogsCallback callback, void* data, CUlogsCallbackHandle* handle);
  CUresult Unregister(CUlogsCallbackHandle handle);
  CUresult Current(CUlogIterator* iterator, unsigned flags) const;
  CUresult DumpToMemory(CUlogIterator* iterator, char* buffer, std::size_t* size, unsigned flags) const;
  CUresult DumpToFile(CUlogIterator* iterator, const char* path, unsigned flags) const;

 private:
  struct Line {
    std::uint32_t number;
    std::string text;  // without the newline
  };
  struct Snapshot {
    std::vector<std::string> lines;  // from the iterator on, oldest first
    std::uint32_t lost = 0;          // lines after the iterator already dropped
    std::uint32_t next = 0;          // the iterator after reading them all
  };
  // The lines from *iterator (every kept line when null); false if *iterator is past the end.
  bool Read(const CUlogIterator* iterator, Snapshot* out) const;

  mutable std::mutex mu_;
  std::deque<Line> lines_;
  std::size_t bytes_ = 0;
  std::uint32_t next_ = 0;
  std::vector<std::shared_ptr<CUlogsCallbackEntry_st>> callbacks_;
};

}  // namespace gpupool::client

#include "remoting/client/driver_log.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>

#include "common/fork_safe.h"

// The handle cuLogsRegisterCallback returns (cuda.h declares the type, the driver defines it).
struct CUlogsCallbackEntry_st {
  CUlogsCallback callback;
  void* data;
  std::atomic<bool> active{true};  // false once unregistered: a copy being delivered skips it
};

namespace gpupool::client {
namespace {

thread_local bool t_in_callback = false;

constexpr const char* kOverwritten = "overwritten (the log keeps the last 25600 bytes)";

std::string Stamp() {
  return "[" + UtcTimeOfDay(std::chrono::system_clock::now(), 3) + "][" +
         std::to_string(static_cast<long>(::syscall(SYS_gettid))) + "]";
}

// The line at the head of a dump that leaves out `count` lines after its iterator.
std::string LeftOutLine(std::uint32_t count, const char* why) {
  return Stamp() + "[gpupool][W] " + std::to_string(count) + " earlier log message" +
         (count == 1 ? "" : "s") + " left out: " + why;
}

// A dump's text: a line saying `left_out` lines are missing (when there are), then `lines` from
// `first` on, each ended by a newline.
std::string DumpText(const std::vector<std::string>& lines, std::size_t first, std::uint32_t left_out,
                     const char* why) {
  std::string out;
  if (left_out != 0) out.append(LeftOutLine(left_out, why)).push_back('\n');
  for (std::size_t i = first; i < lines.size(); ++i) out.append(lines[i]).push_back('\n');
  return out;
}

void Observe(LogLevel level, std::string_view message) {
  DriverLog::Process().Add(level, message);
}

}  // namespace

DriverLog::DriverLog() = default;
DriverLog::~DriverLog() = default;

DriverLog& DriverLog::Process() {
  static DriverLog* log = [] {
    auto* made = new DriverLog;  // never destroyed: threads may log during exit
    HoldAcrossFork(&made->mu_);  // a forked child logs too
    return made;
  }();
  return *log;
}

namespace {
// Made when the client library is loaded, before a thread can fork while another is making it.
[[maybe_unused]] const bool g_process_log_made = (DriverLog::Process(), true);
}  // namespace

void DriverLog::Install() {
  SetLogObserver(&Observe);
}

void DriverLog::Add(LogLevel level, std::string_view message) {
  if (message.size() > kMaxMessage) message = message.substr(0, kMaxMessage);
  std::string text = Stamp() + (level == LogLevel::kError ? "[gpupool][E] " : "[gpupool][W] ");
  text.append(message);
  std::vector<std::shared_ptr<CUlogsCallbackEntry_st>> targets;
  {
    std::lock_guard<std::mutex> lock(mu_);
    bytes_ += text.size() + 1;
    lines_.push_back({next_++, text});
    while (bytes_ > kCapacity && lines_.size() > 1) {
      bytes_ -= lines_.front().text.size() + 1;
      lines_.pop_front();
    }
    if (!t_in_callback) targets = callbacks_;
  }
  if (targets.empty()) return;
  const CUlogLevel cu_level = level == LogLevel::kError ? CU_LOG_LEVEL_ERROR : CU_LOG_LEVEL_WARNING;
  t_in_callback = true;
  for (const auto& target : targets) {
    if (!target->active.load()) continue;
    std::string copy = text;  // the callback gets a char* it may write to
    target->callback(target->data, cu_level, copy.data(), copy.size());
  }
  t_in_callback = false;
}

CUresult DriverLog::Register(CUlogsCallback callback, void* data, CUlogsCallbackHandle* handle) {
  if (callback == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto entry = std::make_shared<CUlogsCallbackEntry_st>();
  entry->callback = callback;
  entry->data = data;
  std::lock_guard<std::mutex> lock(mu_);
  callbacks_.push_back(entry);
  if (handle != nullptr) *handle = entry.get();
  return CUDA_SUCCESS;
}

CUresult DriverLog::Unregister(CUlogsCallbackHandle handle) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it =
      std::find_if(callbacks_.begin(), callbacks_.end(), [&](const auto& e) { return e.get() == handle; });
  if (handle == nullptr || it == callbacks_.end()) return CUDA_ERROR_INVALID_VALUE;
  (*it)->active.store(false);
  callbacks_.erase(it);
  return CUDA_SUCCESS;
}

CUresult DriverLog::Current(CUlogIterator* iterator, unsigned flags) const {
  if (iterator == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(mu_);
  *iterator = next_;
  return CUDA_SUCCESS;
}

bool DriverLog::Read(const CUlogIterator* iterator, Snapshot* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  const std::uint32_t from = iterator != nullptr ? *iterator : 0;
  if (from > next_) return false;
  const std::uint32_t first = lines_.empty() ? next_ : lines_.front().number;
  out->lost = from < first ? first - from : 0;
  for (const Line& line : lines_)
    if (line.number >= from) out->lines.push_back(line.text);
  out->next = next_;
  return true;
}

CUresult DriverLog::DumpToMemory(CUlogIterator* iterator, char* buffer, std::size_t* size,
                                 unsigned flags) const {
  if (buffer == nullptr || size == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  Snapshot snap;
  if (!Read(iterator, &snap)) return CUDA_ERROR_INVALID_VALUE;
  const std::size_t room = *size;
  if (snap.lines.empty() && snap.lost == 0) {
    if (room != 0) buffer[0] = '\0';
    *size = 0;
    if (iterator != nullptr) *iterator = snap.next;
    return CUDA_SUCCESS;
  }
  std::string out = DumpText(snap.lines, 0, snap.lost, kOverwritten);
  if (out.size() + 1 > room) {
    // Keep the newest lines that fit behind a line saying how many were left out.
    const char* why = snap.lost != 0 ? "overwritten, or the buffer is too small" : "the buffer is too small";
    std::size_t first = 0;
    do {
      ++first;
      if (first >= snap.lines.size()) {  // not even the newest line fits
        *size = 0;
        return CUDA_ERROR_INVALID_VALUE;
      }
      out = DumpText(snap.lines, first, snap.lost + static_cast<std::uint32_t>(first), why);
    } while (out.size() + 1 > room);
  }
  std::copy(out.begin(), out.end(), buffer);
  buffer[out.size()] = '\0';
  *size = out.size();
  if (iterator != nullptr) *iterator = snap.next;
  return CUDA_SUCCESS;
}

CUresult DriverLog::DumpToFile(CUlogIterator* iterator, const char* path, unsigned flags) const {
  if (path == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  Snapshot snap;
  if (!Read(iterator, &snap)) return CUDA_ERROR_INVALID_VALUE;
  const std::string out = DumpText(snap.lines, 0, snap.lost, kOverwritten);
  std::FILE* file = std::fopen(path, "w");
  if (file == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const bool written = std::fwrite(out.data(), 1, out.size(), file) == out.size();
  if (std::fclose(file) != 0 || !written) return CUDA_ERROR_INVALID_VALUE;
  if (iterator != nullptr) *iterator = snap.next;
  return CUDA_SUCCESS;
}

}  // namespace gpupool::client

#include "remoting/server/output_capture.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace gpupool::server {
namespace {

constexpr std::size_t kReadChunk = 64u << 10;

Status Errno(const char* what) {
  return Status::Internal(std::string(what) + ": " + std::strerror(errno));
}

}  // namespace

Result<std::unique_ptr<OutputCapture>> OutputCapture::Start(int fd, std::size_t limit,
                                                            std::function<void()> flush) {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) return Errno("pipe2");
  // The read end is non-blocking so a drain stops at "empty"; the write end stays blocking, as a
  // stdout normally is (stdio does not expect EAGAIN), and is never full for long: the thread reads.
  int wake = ::eventfd(0, EFD_CLOEXEC);
  if (wake < 0 || ::fcntl(ends[0], F_SETFL, O_NONBLOCK) != 0 || ::dup2(ends[1], fd) < 0) {
    Status failed = Errno("capturing the worker's stdout");
    ::close(ends[0]);
    ::close(ends[1]);
    if (wake >= 0) ::close(wake);
    return failed;
  }
  ::close(ends[1]);
  return std::unique_ptr<OutputCapture>(new OutputCapture(fd, ends[0], wake, limit, std::move(flush)));
}

OutputCapture::OutputCapture(int fd, int read_fd, int wake_fd, std::size_t limit, std::function<void()> flush)
    : fd_(fd), read_fd_(read_fd), wake_fd_(wake_fd), limit_(limit), flush_(std::move(flush)) {
  thread_ = std::thread([this] { Loop(); });
}

OutputCapture::~OutputCapture() {
  if (flush_) flush_();
  int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null_fd >= 0) {
    ::dup2(null_fd, fd_);
    ::close(null_fd);
  }
  const std::uint64_t one = 1;
  ssize_t ignored = ::write(wake_fd_, &one, sizeof one);
  (void)ignored;
  thread_.join();
  ::close(read_fd_);
  ::close(wake_fd_);
}

void OutputCapture::Loop() {
  pollfd fds[2] = {{read_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  while (true) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    std::lock_guard<std::mutex> lock(mu_);
    DrainLocked();
    // No writer left (or a broken pipe): nothing more can come, and poll would not wait again.
    if ((fds[0].revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) return;
  }
}

void OutputCapture::DrainLocked() {
  char chunk[kReadChunk];
  while (true) {
    ssize_t n = ::read(read_fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // empty (EAGAIN), or every writer gone
    const std::size_t got = static_cast<std::size_t>(n);
    const std::size_t room = buffer_.size() < limit_ ? limit_ - buffer_.size() : 0;
    if (full_) {
      dropped_ += got;
    } else if (got <= room) {
      buffer_.append(chunk, got);
    } else {
      // Full: keep whole lines (unless a single line fills the buffer), drop everything after
      // them until the next Take, so the text has a gap only at its end.
      buffer_.append(chunk, room);
      const std::size_t line_end = buffer_.rfind('\n');
      const std::size_t kept = line_end == std::string::npos ? buffer_.size() : line_end + 1;
      dropped_ += buffer_.size() - kept + (got - room);
      buffer_.resize(kept);
      full_ = true;
    }
  }
}

void OutputCapture::Take(std::string* text, std::uint64_t* dropped) {
  if (flush_) flush_();
  std::lock_guard<std::mutex> lock(mu_);
  DrainLocked();
  if (text->empty()) {
    text->swap(buffer_);
  } else {
    text->append(buffer_);
  }
  buffer_.clear();
  *dropped = dropped_;
  dropped_ = 0;
  full_ = false;
}

}  // namespace gpupool::server

#include "tests/support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>

extern char** environ;

namespace gpupool::testing {

Result<Subprocess> Subprocess::Start(const std::vector<std::string>& argv, const SubprocessOptions& options) {
  if (argv.empty()) return Status::InvalidArgument("empty argv");
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status::Internal(std::string("pipe: ") + std::strerror(errno));

  // Build argv/envp before fork: only async-signal-safe calls are allowed in the child.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    const std::string key = entry.substr(0, entry.find('='));
    bool drop = options.env.count(key) > 0;
    for (const auto& u : options.unset_env) drop = drop || u == key;
    if (!drop) env_strings.push_back(std::move(entry));
  }
  for (const auto& [k, v] : options.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  std::vector<char*> args;
  for (auto& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) return Status::Internal(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    if (options.merge_stderr) ::dup2(fds[1], STDERR_FILENO);
    // The child gets its own process group so a test can kill it with everything it started.
    ::setpgid(0, 0);
    if (!options.working_dir.empty() && ::chdir(options.working_dir.c_str()) != 0) _exit(126);
    ::execve(args[0], args.data(), envp.data());
    ::execvpe(args[0], args.data(), envp.data());
    _exit(127);
  }
  ::close(fds[1]);
  Subprocess p;
  p.pid_ = pid;
  p.out_fd_ = fds[0];
  return p;
}

Subprocess::Subprocess(Subprocess&& o) noexcept {
  *this = std::move(o);
}

Subprocess& Subprocess::operator=(Subprocess&& o) noexcept {
  if (this != &o) {
    pid_ = o.pid_;
    out_fd_ = o.out_fd_;
    eof_ = o.eof_;
    exit_code_ = o.exit_code_;
    output_ = std::move(o.output_);
    scanned_ = o.scanned_;
    o.pid_ = -1;
    o.out_fd_ = -1;
  }
  return *this;
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && !exit_code_) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
}

void Subprocess::Signal(int sig) {
  if (pid_ > 0 && !exit_code_) ::kill(pid_, sig);
}

bool Subprocess::ReadSome(std::chrono::steady_clock::time_point deadline) {
  if (eof_) return false;
  const auto now = std::chrono::steady_clock::now();
  const int wait_ms =
      now >= deadline
          ? 0
          : static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count()) +
                1;
  pollfd pfd{out_fd_, POLLIN, 0};
  const int r = ::poll(&pfd, 1, wait_ms);
  if (r <= 0) return true;
  char buf[65536];
  const ssize_t n = ::read(out_fd_, buf, sizeof buf);
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  output_.append(buf, static_cast<std::size_t>(n));
  return true;
}

Result<std::string> Subprocess::WaitForLine(const std::string& needle, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    // Match only whole lines after the last match, so the same line is not returned twice.
    std::size_t line_start = scanned_;
    while (true) {
      const std::size_t nl = output_.find('\n', line_start);
      if (nl == std::string::npos) break;
      std::string line = output_.substr(line_start, nl - line_start);
      line_start = nl + 1;
      if (line.find(needle) != std::string::npos) {
        scanned_ = line_start;
        return line;
      }
    }
    if (eof_) {
      return Status::FailedPrecondition("process exited before printing \"" + needle + "\"; output:\n" +
                                        output_);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::DeadlineExceeded("no line containing \"" + needle + "\" within " +
                                      std::to_string(timeout.count()) + " ms; output:\n" + output_);
    }
    ReadSome(deadline);
  }
}

Result<int> Subprocess::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!eof_ && std::chrono::steady_clock::now() < deadline) ReadSome(deadline);
  // The pipe can close before the process is reaped; give the reap the rest of the deadline.
  while (!exit_code_) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::DeadlineExceeded("process " + std::to_string(pid_) + " still running after " +
                                      std::to_string(timeout.count()) + " ms; output:\n" + output_);
    }
    if (!eof_) {
      ReadSome(deadline);
    } else {
      // Output closed but not yet reaped: wait on the process itself (pidfd is readable at exit).
      const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
      if (pidfd < 0) return Status::Internal(std::string("pidfd_open: ") + std::strerror(errno));
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd pfd{pidfd, POLLIN, 0};
      ::poll(&pfd, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)) + 1);
      ::close(pidfd);
    }
  }
  while (!eof_ && ReadSome(std::chrono::steady_clock::now())) {
  }
  return *exit_code_;
}

std::string BinDir() {
  return GPUPOOL_TEST_BIN_DIR;
}
std::string LibDir() {
  return GPUPOOL_TEST_LIB_DIR;
}
std::string SourceDir() {
  return GPUPOOL_TEST_SOURCE_DIR;
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base != nullptr ? base : "/tmp") + "/gpupool-test-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) std::abort();
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

bool MakeSocketFile(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) return false;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);  // the file stays; connecting to it is refused
  return bound;
}

}  // namespace gpupool::testing

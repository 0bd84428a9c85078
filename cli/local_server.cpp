#include "cli/local_server.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <vector>

namespace gpupool::cli {
namespace {

constexpr auto kReadyTimeout = std::chrono::seconds(30);

// Reads the server's output until a line contains "listening on"; false on EOF or timeout.
bool WaitReady(int fd, std::string* seen) {
  const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    fd_set set;
    FD_ZERO(&set);
    FD_SET(fd, &set);
    timeval tv{0, 200000};
    if (select(fd + 1, &set, nullptr, nullptr, &tv) <= 0) continue;
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    seen->append(buf, static_cast<std::size_t>(n));
    if (seen->find("listening on") != std::string::npos) return true;
  }
  return false;
}

}  // namespace

std::string ExecutableDir() {
  std::error_code error;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::string(".") : exe.parent_path().string();
}

bool HasNvidiaGpu() {
  if (!std::filesystem::exists("/dev/nvidiactl") || !std::filesystem::exists("/dev/nvidia0")) return false;
  void* driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (driver == nullptr) return false;
  dlclose(driver);
  return true;
}

Result<std::unique_ptr<LocalServer>> LocalServer::Start(const LocalServerOptions& options) {
  std::unique_ptr<LocalServer> server(new LocalServer());
  char pattern[] = "/tmp/gpupool-run-XXXXXX";
  if (mkdtemp(pattern) == nullptr)
    return Status::Internal("cannot create a directory for the server's socket");
  server->dir_ = pattern;
  server->address_ = "unix:" + server->dir_ + "/server.sock";
  // The server always listens on TCP as well (here a free loopback port); the client uses the socket.
  std::vector<std::string> argv = {options.binary,
                                   "--device",
                                   options.device,
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--unix",
                                   server->dir_ + "/server.sock"};
  if (options.percent > 0 && options.percent < 100)
    argv.insert(argv.end(), {"--session-percent", std::to_string(options.percent)});
  // The memory share of each GPU is enforced by the server for every session of the run (a real GPU
  // keeps its size; emulated GPUs are also made that large).
  if (options.memory_bytes != 0)
    argv.insert(argv.end(), {"--session-memory", std::to_string(options.memory_bytes)});
  if (options.device == "emulated") {
    argv.insert(argv.end(), {"--emulated-gpus", std::to_string(options.gpus)});
    if (options.memory_bytes != 0)
      argv.insert(argv.end(), {"--emulated-memory", std::to_string(options.memory_bytes)});
  }
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return Status::Internal("pipe failed");
  const pid_t pid = fork();
  if (pid < 0) return Status::Internal("fork failed");
  if (pid == 0) {
    dup2(pipe_fds[1], 1);
    dup2(pipe_fds[1], 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  server->pid_ = pid;
  server->out_fd_ = pipe_fds[0];
  std::string seen;
  if (!WaitReady(server->out_fd_, &seen)) {
    return Status::Unavailable("gpupool-server (" + options.binary + ") did not start: " + seen);
  }
  const int fd = server->out_fd_;
  server->drain_ = std::thread([fd] {
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) (void)!write(2, buf, static_cast<std::size_t>(n));
  });
  return server;
}

LocalServer::~LocalServer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      usleep(10000);  // polling a child's exit; there is no event to wait on without SIGCHLD plumbing
    }
  }
  // The drain thread ends at EOF, which a lingering worker process could delay: let it go rather
  // than hold up the exit of `gpupool run` (its descriptor dies with the process).
  if (drain_.joinable()) drain_.detach();
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

}  // namespace gpupool::cli

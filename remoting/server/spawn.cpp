#include "remoting/server/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace gpupool::server {

Result<pid_t> SpawnSelf(const std::vector<std::string>& args, const std::vector<int>& keep_fds,
                        int stdout_fd) {
  static const std::string self = [] {
    char path[4096];
    ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
    return n > 0 ? std::string(path, static_cast<std::size_t>(n)) : std::string("/proc/self/exe");
  }();
  // Everything the child needs is built before fork: after it, only async-signal-safe calls.
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(self.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return Status::ResourceExhausted(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    for (int fd : keep_fds) ::fcntl(fd, F_SETFD, 0);
    if (stdout_fd >= 0) ::dup2(stdout_fd, STDOUT_FILENO);
    // The broker blocks SIGTERM/SIGINT for sigwait. The child keeps SIGTERM blocked (the mask survives
    // exec) until it has installed its handler, so a Revoke or shutdown that comes while it is still
    // starting stays pending instead of killing it before it can tell its client why.
    sigset_t term_only;
    sigemptyset(&term_only);
    sigaddset(&term_only, SIGTERM);
    ::sigprocmask(SIG_SETMASK, &term_only, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::execv(self.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

Reaper::Reaper(Registry* registry) : registry_(registry), thread_([this] { Loop(); }) {}

Reaper::~Reaper() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Reaper::ChildStarted() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++children_;
  }
  cv_.notify_all();
}

void Reaper::Loop() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || children_ > 0; });
      if (stop_) return;
    }
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == ECHILD) {
        std::lock_guard<std::mutex> lock(mu_);
        children_ = 0;
      }
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      --children_;
    }
    std::uint64_t session = 0;
    {
      std::lock_guard<std::mutex> spawn_lock(registry_->spawn_mutex());
      session = registry_->RemoveSession(pid);
    }
    if (session != 0) {
      // Tests wait for this line: the session's memory is gone with its worker.
      if (WIFSIGNALED(status)) {
        GPUPOOL_LOG(kWarn) << "session " << session << " ended: worker " << pid << " killed by signal "
                           << WTERMSIG(status);
      } else {
        GPUPOOL_LOG(kInfo) << "session " << session << " ended: worker " << pid << " exited with "
                           << WEXITSTATUS(status);
      }
    }
  }
}

}  // namespace gpupool::server

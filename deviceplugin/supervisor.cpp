#include "deviceplugin/supervisor.h"

#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/log.h"
#include "deviceplugin/ca_install.h"
#include "deviceplugin/health_poller.h"

namespace gpupool::deviceplugin {
namespace {

constexpr int kMaxBackoffMs = 30'000;

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

sigset_t HandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

std::string Folder(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

void BlockSignals() {
  sigset_t set = HandledSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

Status CheckDirectory(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0)
    return Status::NotFound("device-plugin directory " + dir + ": " + std::strerror(errno) +
                            " (is --device-plugin-dir the kubelet's, and mounted into this container?)");
  if (!S_ISDIR(st.st_mode))
    return Status::InvalidArgument("device-plugin directory " + dir + " is not a directory");
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    return Status::PermissionDenied("device-plugin directory " + dir +
                                    " is not writable: " + std::strerror(errno));
  return Status::Ok();
}

Supervisor::Supervisor(const Config& config, std::unique_ptr<PoolHealthSource> health)
    : config_(config), health_(std::move(health)) {
  for (auto& spec : BuildResources(config_))
    servers_.push_back(std::make_unique<ResourceServer>(spec, config_));
  registered_.assign(servers_.size(), false);
}

void Supervisor::RestartAll(const char* reason) {
  GPUPOOL_LOG(kInfo) << reason << ": (re)starting " << servers_.size() << " resource servers";
  for (auto& s : servers_) s->Stop();
  std::fill(registered_.begin(), registered_.end(), false);
  backoff_ms_ = 1000;
  RetryPending();
}

void Supervisor::RetryPending() {
  bool pending = false;
  const std::string kubelet = config_.device_plugin_dir + "/kubelet.sock";
  // A kubelet that refuses one Register refuses the rest: try again on the next round instead of
  // spending a deadline per resource while signals wait.
  bool kubelet_there = ::access(kubelet.c_str(), F_OK) == 0;
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    if (registered_[i]) continue;
    auto& s = *servers_[i];
    if (!s.serving()) {
      if (Status st = s.Start(); !st.ok()) {
        GPUPOOL_LOG(kError) << st.message();
        pending = true;
        continue;
      }
    }
    if (!kubelet_there) {
      pending = true;
      continue;
    }
    if (Status st = s.Register(); !st.ok()) {
      GPUPOOL_LOG(kWarn) << st.message();
      pending = true;
      kubelet_there = false;
      continue;
    }
    registered_[i] = true;
  }
  if (!pending) {
    next_retry_ms_ = -1;
    return;
  }
  if (::access(kubelet.c_str(), F_OK) != 0) {
    GPUPOOL_LOG(kInfo) << "waiting for kubelet: " << kubelet
                       << " not found (is --device-plugin-dir the kubelet's?)"
                       << "; retry in " << backoff_ms_ << " ms";
  }
  next_retry_ms_ = NowMs() + backoff_ms_;
  backoff_ms_ = std::min(backoff_ms_ * 2, kMaxBackoffMs);
}

bool Supervisor::InstallCa() {
  auto installed = InstallCaBundle(config_.tls_ca_source, config_.tls_ca_install);
  if (!installed.ok()) {
    // Once per distinct failure: a broken bundle is re-read on every change of its folder.
    if (installed.status().message() != ca_error_) {
      ca_error_ = installed.status().message();
      GPUPOOL_LOG(kError) << "servers' CA not installed: " << ca_error_;
    }
    return false;
  }
  ca_error_.clear();
  if (installed->replaced) {
    GPUPOOL_LOG(kInfo) << "installed the servers' CA bundle (" << installed->certificates << " certificate"
                       << (installed->certificates == 1 ? "" : "s") << ") at " << config_.tls_ca_install;
  }
  return true;
}

int Supervisor::Run() {
  sigset_t set = HandledSignals();
  const int sig_fd = ::signalfd(-1, &set, SFD_CLOEXEC);
  const int ino_fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (sig_fd < 0 || ino_fd < 0) {
    GPUPOOL_LOG(kError) << "signalfd/inotify: " << std::strerror(errno);
    return 1;
  }
  if (::inotify_add_watch(ino_fd, config_.device_plugin_dir.c_str(), IN_CREATE | IN_MOVED_TO) < 0) {
    GPUPOOL_LOG(kError) << "cannot watch " << config_.device_plugin_dir << ": " << std::strerror(errno);
    return 1;
  }
  // The kubelet updates a Secret volume by renaming a new "..data" link into its folder; a plain file
  // edited in place is written and closed. Either way the folder reports it.
  int ca_wd = -1;
  if (!config_.tls_ca_source.empty()) {
    const std::string folder = Folder(config_.tls_ca_source);
    ca_wd = ::inotify_add_watch(ino_fd, folder.c_str(), IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE);
    if (ca_wd < 0) {
      GPUPOOL_LOG(kError) << "cannot watch " << folder << ": " << std::strerror(errno);
      return 1;
    }
    // Before anything is served, so the first container already finds the CA.
    if (!InstallCa()) return 1;
  }

  // First health reading before serving, so kubelet's first list is already right.
  HealthPoller health(std::move(health_), config_.health_interval_ms);
  for (auto& s : servers_) s->SetHealthy(health.initial());
  health.Start([this](bool healthy) {
    for (auto& s : servers_) s->SetHealthy(healthy);
  });

  RestartAll("start");
  int exit_code = 0;
  for (bool running = true; running;) {
    pollfd fds[2] = {{sig_fd, POLLIN, 0}, {ino_fd, POLLIN, 0}};
    const int timeout =
        next_retry_ms_ < 0 ? -1 : static_cast<int>(std::max<std::int64_t>(0, next_retry_ms_ - NowMs()));
    if (::poll(fds, 2, timeout) < 0 && errno != EINTR) {
      GPUPOOL_LOG(kError) << "poll: " << std::strerror(errno);
      exit_code = 1;
      break;
    }
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info{};
      if (::read(sig_fd, &info, sizeof info) == sizeof info) {
        if (info.ssi_signo == SIGHUP) {
          if (ca_wd >= 0) InstallCa();
          RestartAll("SIGHUP");
        } else {
          GPUPOOL_LOG(kInfo) << "signal " << info.ssi_signo << ": shutting down";
          running = false;
        }
      }
    }
    if (running && (fds[1].revents & POLLIN)) {
      alignas(inotify_event) char buf[4096];
      bool kubelet_created = false, ca_changed = false;
      for (ssize_t n; (n = ::read(ino_fd, buf, sizeof buf)) > 0;) {
        for (char* p = buf; p < buf + n;) {
          auto* ev = reinterpret_cast<inotify_event*>(p);
          if (ev->wd == ca_wd) {
            ca_changed = true;
          } else if (ev->len > 0 && std::strcmp(ev->name, "kubelet.sock") == 0) {
            kubelet_created = true;
          }
          p += sizeof(inotify_event) + ev->len;
        }
      }
      if (ca_changed) InstallCa();
      if (kubelet_created) RestartAll("kubelet.sock re-created");
    }
    if (running && next_retry_ms_ >= 0 && NowMs() >= next_retry_ms_) RetryPending();
  }

  for (auto& s : servers_) s->Stop();
  ::close(ino_fd);
  ::close(sig_fd);
  GPUPOOL_LOG(kInfo) << "stopped; sockets removed";
  return exit_code;
}

}  // namespace gpupool::deviceplugin

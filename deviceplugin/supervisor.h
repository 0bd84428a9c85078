// The one loop of gpupool-device-plugin (STYLE §4). It owns the three ResourceServers and reacts to:
//   kubelet.sock created in the directory (kubelet restarted and deleted every socket) -> restart
//     all servers and register every resource again;
//   SIGHUP -> the same restart;  SIGTERM / SIGINT -> stop servers, remove sockets, return 0;
//   retry timer -> start servers / register whatever is still pending, with backoff 1 s .. 30 s
//     (kubelet absent is not an error: the plugin waits for it forever).
//   the servers' CA bundle's folder changed (--tls-ca-source) -> copy it to the host (ca_install.h).
// Pool health is polled on its own thread (HealthPoller) so a slow API server never delays
// re-registration.
//
// Thread-safety: Run() on one thread; it blocks SIGTERM/SIGINT/SIGHUP handling through a signalfd,
// so the caller must block those signals in every thread first (BlockSignals, before any thread).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "deviceplugin/config.h"
#include "deviceplugin/pool_health.h"
#include "deviceplugin/resource_server.h"

namespace gpupool::deviceplugin {

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and threads it starts later).
void BlockSignals();

// OK when `dir` is a directory this process may create sockets in; else a message saying what is wrong.
Status CheckDirectory(const std::string& dir);

class Supervisor {
 public:
  Supervisor(const Config& config, std::unique_ptr<PoolHealthSource> health);
  // Runs until SIGTERM or SIGINT; returns the process exit code.
  int Run();

 private:
  void RestartAll(const char* reason);
  // Starts servers that are not serving and registers resources not yet registered.
  void RetryPending();
  // Copies the servers' CA bundle to the host when it changed; false (and logged) on failure.
  bool InstallCa();

  const Config config_;
  std::unique_ptr<PoolHealthSource> health_;  // handed to the HealthPoller in Run()
  std::vector<std::unique_ptr<ResourceServer>> servers_;
  std::vector<bool> registered_;
  int backoff_ms_ = 1000;
  std::int64_t next_retry_ms_ = -1;  // steady-clock ms; -1: nothing pending
  std::string ca_error_;             // the last CA install failure, logged once
};

}  // namespace gpupool::deviceplugin

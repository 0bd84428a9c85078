// gpupool-server: the broker (accepts sessions, serves Control and /metrics), or — started by the
// broker with hidden flags — a session worker or the inventory child. See README.md.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <thread>

#include "common/local_gpu_list.h"
#include "common/log.h"
#include "remoting/server/broker.h"
#include "remoting/server/control_service.h"
#include "remoting/server/image_store.h"
#include "remoting/server/inventory.h"
#include "remoting/server/ipc_directory.h"
#include "remoting/server/local_gpu_list.h"
#include "remoting/server/metrics.h"
#include "remoting/server/metrics_render.h"
#include "remoting/server/server_flags.h"
#include "remoting/server/share_table.h"
#include "remoting/server/worker.h"

namespace gpupool::server {
namespace {

int RunBroker(ServerOptions options) {
  SetLogComponent("gpupool-server");
  if (options.emulated.uuid_seed.empty()) {
    // Emulated GPU UUIDs must differ between server instances and agree between this server's
    // workers and inventory child.
    options.emulated.uuid_seed = std::to_string(::getpid()) + "-" + std::to_string(NowUnixMs());
  }
  // SIGINT/SIGTERM are taken with sigwait below; every thread started from here on inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  if (options.tls_enabled()) {
    // Each TLS session's worker reads the files again (so replacing them needs no restart); a
    // mistake in them is reported here, at start-up, rather than to every client.
    if (Status s = protocol::TlsChannel::CheckServerFiles(options.tls); !s.ok()) {
      std::cerr << "gpupool-server: TLS: " << s.message() << "\n";
      return 1;
    }
  }
  if (!options.image_cache_dir.empty()) {
    if (Status prepared = ImageStore::Prepare(options.image_cache_dir); !prepared.ok()) {
      std::cerr << "gpupool-server: " << prepared.message() << "\n";
      return 1;
    }
  }
  if (std::string why = RestrictToLoopback(options); !why.empty()) {
    std::cout << "gpupool-server: " << why << std::endl;
  } else if (options.allow_unauthenticated && !options.authenticates_clients()) {
    GPUPOOL_LOG(kWarn) << "--allow-unauthenticated: clients are not authenticated (only pods the operator "
                          "admitted are served, by pod UID)";
  }
  std::shared_ptr<PodTokenReview> pod_tokens;
  if (options.pod_token_review) {
    PodTokenReviewOptions review;
    review.cache_ttl = std::chrono::milliseconds(options.pod_token_cache_ms);
    auto connected = PodTokenReview::Connect(options.kube_api, review);
    if (!connected.ok()) {
      std::cerr << "gpupool-server: " << connected.status().message() << "\n";
      return 1;
    }
    pod_tokens = std::move(*connected);
    std::cout << "gpupool-server: pods prove who they are with their service-account token (TokenReview at "
              << (options.kube_api.server.empty() ? std::string("the in-cluster API")
                                                  : options.kube_api.server)
              << (options.token_file.empty() ? "" : "; clients without one need the --token-file token")
              << ")" << std::endl;
  }
  Registry registry;
  auto shares = ShareTable::Create();  // the workers' ShareTable (compute shares), one per server
  if (!shares.ok()) {
    std::cerr << "gpupool-server: " << shares.status().message() << "\n";
    return 1;
  }
  registry.SetShareTable(&*shares);
  auto ipc = IpcDirectory::Create();  // the workers' interprocess handles, one per server
  if (!ipc.ok()) {
    std::cerr << "gpupool-server: " << ipc.status().message() << "\n";
    return 1;
  }
  registry.SetIpcDirectory(&*ipc);
  Reaper reaper(&registry);
  Broker broker(options, &registry, &reaper, pod_tokens);
  // A GPU list left by an earlier server goes before the socket is there: its GPUs need not be ours.
  if (options.unix_socket) WithdrawLocalGpuList(options.unix_socket->path);
  if (Status s = broker.Listen(); !s.ok()) {
    std::cerr << "gpupool-server: " << s.message() << "\n";
    return 1;
  }
  ControlService control(options, &registry, &reaper, pod_tokens);
  std::unique_ptr<grpc::Server> control_server;
  if (options.control_listen) {
    Endpoint bound;
    auto started = StartControlServer(*options.control_listen, options, &control, &bound);
    if (!started.ok()) {
      std::cerr << "gpupool-server: " << started.status().message() << "\n";
      return 1;
    }
    control_server = std::move(*started);
    std::cout << "gpupool-server: control on " << bound.ToString() << std::endl;
  }
  std::unique_ptr<MetricsServer> metrics;
  if (options.metrics_listen) {
    ServerIdentity identity{GPUPOOL_VERSION_STRING, options.device, control.server_id()};
    auto started = MetricsServer::Start(*options.metrics_listen, [&registry, &control, identity] {
      auto inventory = control.Inventory();
      return RenderMetrics(registry, identity, inventory.ok() ? inventory->gpus : std::vector<GpuInfo>());
    });
    if (!started.ok()) {
      std::cerr << "gpupool-server: metrics: " << started.status().message() << "\n";
      return 1;
    }
    metrics = std::move(*started);
    std::cout << "gpupool-server: metrics on " << metrics->endpoint().ToString() << std::endl;
  }
  broker.Start();
  if (options.tls_enabled()) {
    std::cout << "gpupool-server: TLS on TCP (certificate " << options.tls.cert_file
              << (options.tls.client_ca_file.empty() ? "" : ", client certificates required") << ")\n";
  }
  if (options.unix_socket) {
    // --unix-gpu-list: for clients offered this socket on the node, so that those bound to other
    // servers skip it before they authenticate (common/local_gpu_list.h). Asking the inventory
    // child can take a while (driver start-up); until the list is there, clients ask the server.
    if (options.unix_gpu_list)
      std::thread([&control, path = options.unix_socket->path] {
        auto inventory = control.Inventory();
        std::vector<std::string> uuids;
        if (inventory.ok())
          for (const GpuInfo& g : inventory->gpus) uuids.push_back(g.uuid);
        Status published = inventory.ok() ? PublishLocalGpuList(path, uuids) : inventory.status();
        if (published.ok()) {
          GPUPOOL_LOG(kInfo) << "listed " << uuids.size() << " GPUs in " << LocalGpuListPath(path);
        } else {
          GPUPOOL_LOG(kWarn) << "no GPU list next to " << path << ": " << published.ToString();
        }
      }).detach();
    std::cout << "gpupool-server: listening on " << options.unix_socket->ToString() << "\n";
  }
  std::cout << "gpupool-server: " << options.device << " device; listening on "
            << broker.endpoint().ToString() << std::endl;

  int sig = 0;
  sigwait(&stop_signals, &sig);
  GPUPOOL_LOG(kInfo) << "stopping (signal " << sig << "): ending every session";
  registry.EndAll();
  if (options.unix_socket) {
    WithdrawLocalGpuList(options.unix_socket->path);
    ::unlink(options.unix_socket->path.c_str());
  }
  if (options.listen.kind == Endpoint::Kind::kUnix) ::unlink(options.listen.path.c_str());
  std::cout.flush();
  // Threads blocked in accept/waitpid/gRPC are not unwound: the process ends here, workers end on
  // SIGTERM, and the kernel closes every socket.
  ::_exit(0);
}

}  // namespace
}  // namespace gpupool::server

int main(int argc, char** argv) {
  using gpupool::server::ServerOptions;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << gpupool::server::kServerUsage;
    return 0;
  }
  auto options = gpupool::server::ParseServerArgs(args);
  if (!options.ok()) {
    std::cerr << "gpupool-server: " << options.status().message() << "\n" << gpupool::server::kServerUsage;
    return 2;
  }
  switch (options->role) {
    case ServerOptions::Role::kWorker: {
      gpupool::server::WorkerOptions w;
      w.connection_fd = options->worker_fd;
      w.stats_fd = options->stats_fd;
      w.session_id = options->session_id;
      w.device = options->device;
      w.cuda_library = options->cuda_library;
      w.emulated = options->emulated;
      w.broker_fd = options->broker_fd;
      w.tls = options->tls;
      w.share_idle = options->share_idle;
      w.kernel_timeout_ms = options->kernel_timeout_ms;
      w.spin_us = options->spin_us;
      w.mapped_memory = options->session_mapped_memory;
      w.image_cache_dir = options->image_cache_dir;
      w.image_cache_bytes = options->image_cache_bytes;
      w.share_table_fd = options->share_table_fd;
      w.ipc_directory_fd = options->ipc_directory_fd;
      return gpupool::server::RunWorker(w);
    }
    case ServerOptions::Role::kInventory: {
      sigset_t term;  // SpawnSelf leaves SIGTERM blocked; the inventory child has no handler to install
      sigemptyset(&term);
      sigaddset(&term, SIGTERM);
      ::sigprocmask(SIG_UNBLOCK, &term, nullptr);
      return gpupool::server::RunInventory(*options);
    }
    case ServerOptions::Role::kBroker: break;
  }
  return gpupool::server::RunBroker(std::move(*options));
}

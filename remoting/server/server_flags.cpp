#include "remoting/server/server_flags.h"

#include <charconv>
#include <map>

#include "common/units.h"
#include "remoting/protocol/mapped_arena.h"

namespace gpupool::server {
namespace {

Result<std::uint64_t> ParseNumber(const std::string& flag, const std::string& text) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Status::InvalidArgument(flag + ": '" + text + "' is not a number");
  }
  return v;
}

// "0" (off) or a duration such as "500ms", "30s", "2m".
Result<std::int64_t> ParseDuration(const std::string& flag, const std::string& text) {
  if (text == "0") return std::int64_t{0};
  auto ms = ParseDurationMs(text);
  if (!ms.ok()) return Status::InvalidArgument(flag + ": " + ms.status().message());
  return *ms;
}

Result<Endpoint> ParseListen(const std::string& flag, const std::string& text) {
  auto e = ParseEndpoint(text, /*allow_port_zero=*/true);
  if (!e.ok()) return Status::InvalidArgument(flag + ": " + e.status().message());
  return e;
}

// Applies one "--flag value" pair.
Status Apply(ServerOptions& o, const std::string& flag, const std::string& value) {
  if (flag == "--device") {
    if (value != "cuda" && value != "emulated") {
      return Status::InvalidArgument("--device: '" + value + "' is not one of cuda, emulated");
    }
    o.device = value;
  } else if (flag == "--listen") {
    GPUPOOL_ASSIGN_OR_RETURN(o.listen, ParseListen(flag, value));  // HOST:PORT or unix:/path
  } else if (flag == "--unix") {
    if (value.empty()) return Status::InvalidArgument("--unix: empty path");
    Endpoint e;
    e.kind = Endpoint::Kind::kUnix;
    e.path = value.rfind("unix:", 0) == 0 ? value.substr(5) : value;
    o.unix_socket = e;
  } else if (flag == "--unix-mode") {
    // Octal, like chmod: only the permission bits, so no set-id or sticky bit slips in.
    std::uint32_t mode = 0;
    const bool octal =
        !value.empty() && value.size() <= 4 && value.find_first_not_of("01234567") == std::string::npos;
    if (octal) mode = static_cast<std::uint32_t>(std::stoul(value, nullptr, 8));
    if (!octal || mode > 0777)
      return Status::InvalidArgument("--unix-mode: '" + value + "' is not an octal mode like 0660");
    o.unix_mode = mode;
  } else if (flag == "--control-listen") {
    GPUPOOL_ASSIGN_OR_RETURN(o.control_listen, ParseListen(flag, value));
  } else if (flag == "--metrics-listen") {
    GPUPOOL_ASSIGN_OR_RETURN(o.metrics_listen, ParseListen(flag, value));
    if (o.metrics_listen->kind != Endpoint::Kind::kTcp)
      return Status::InvalidArgument("--metrics-listen: HOST:PORT");
  } else if (flag == "--token-file") {
    o.token_file = value;
  } else if (flag == "--tls-cert-file") {
    o.tls.cert_file = value;
  } else if (flag == "--tls-key-file") {
    o.tls.key_file = value;
  } else if (flag == "--tls-client-ca-file") {
    o.tls.client_ca_file = value;
  } else if (flag == "--broker-fd") {
    GPUPOOL_ASSIGN_OR_RETURN(std::uint64_t fd, ParseNumber(flag, value));
    o.broker_fd = static_cast<int>(fd);
  } else if (flag == "--cuda-library") {
    o.cuda_library = value;
  } else if (flag == "--emulated-gpus") {
    GPUPOOL_ASSIGN_OR_RETURN(std::uint64_t n, ParseNumber(flag, value));
    if (n < 1 || n > 64) return Status::InvalidArgument("--emulated-gpus: must be 1..64, got " + value);
    o.emulated.gpus = static_cast<int>(n);
    o.emulated_flags_given = true;
  } else if (flag == "--emulated-memory") {
    auto size = ParseSize(value);
    if (!size.ok() || *size == 0)
      return Status::InvalidArgument("--emulated-memory: '" + value + "' is not a size");
    o.emulated.memory_bytes = *size;
    o.emulated_flags_given = true;
  } else if (flag == "--record-launches") {
    o.emulated.record_launches_path = value;
    o.emulated_flags_given = true;
  } else if (flag == "--emulated-lost-gpu") {
    GPUPOOL_ASSIGN_OR_RETURN(std::uint64_t n, ParseNumber(flag, value));
    if (n > 63) return Status::InvalidArgument("--emulated-lost-gpu: must be a GPU index, got " + value);
    o.emulated.lost_gpu = static_cast<int>(n);
    o.emulated_flags_given = true;
  } else if (flag == "--emulated-uuid-seed") {
    o.emulated.uuid_seed = value;
  } else if (flag == "--control-service-account") {
    const auto colon = value.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == value.size() ||
        value.find(':', colon + 1) != std::string::npos) {
      return Status::InvalidArgument("--control-service-account: '" + value + "' is not NAMESPACE:NAME");
    }
    o.control_service_accounts.push_back(value);
  } else if (flag == "--image-cache-dir") {
    o.image_cache_dir = value;
  } else if (flag == "--image-cache-size") {
    auto size = ParseSize(value);
    if (!size.ok() || *size == 0)
      return Status::InvalidArgument("--image-cache-size: '" + value + "' is not a size");
    o.image_cache_bytes = *size;
  } else if (flag == "--session-memory") {
    auto size = ParseSize(value);
    if (!size.ok()) return Status::InvalidArgument("--session-memory: '" + value + "' is not a size");
    o.session_memory = *size;
  } else if (flag == "--session-mapped-memory") {
    auto size = ParseSize(value);
    if (!size.ok() || *size > protocol::kMappedArenaBytes) {
      return Status::InvalidArgument("--session-mapped-memory: '" + value + "' is not a size up to " +
                                     std::to_string(protocol::kMappedArenaBytes >> 30) + "GiB");
    }
    o.session_mapped_memory = *size;
  } else if (flag == "--session-percent") {
    auto p = ParsePercent(value);
    if (!p.ok()) return Status::InvalidArgument("--session-percent: '" + value + "' is not a percent 1..100");
    o.session_percent = static_cast<std::uint32_t>(*p);
  } else if (flag == "--share-idle") {
    if (value != "on" && value != "off")
      return Status::InvalidArgument("--share-idle: on or off, got '" + value + "'");
    o.share_idle = value == "on";
  } else if (flag == "--kernel-timeout") {
    GPUPOOL_ASSIGN_OR_RETURN(o.kernel_timeout_ms, ParseDuration(flag, value));
  } else if (flag == "--spin-us") {
    GPUPOOL_ASSIGN_OR_RETURN(std::uint64_t us, ParseNumber(flag, value));
    if (us > 10000) return Status::InvalidArgument("--spin-us: at most 10000 (10 ms), got " + value);
    o.spin_us = static_cast<std::uint32_t>(us);
  } else if (flag == "--emulated-kernel-time") {
    GPUPOOL_ASSIGN_OR_RETURN(std::int64_t ms, ParseDuration(flag, value));
    if (ms > 24 * 3600 * 1000) return Status::InvalidArgument("--emulated-kernel-time: at most 24h");
    o.emulated.kernel_time_ns = static_cast<std::uint64_t>(ms) * 1'000'000;
    o.emulated_flags_given = true;
  } else if (flag == "--kube-api-server") {
    if (value.rfind("https://", 0) != 0 && value.rfind("http://", 0) != 0)
      return Status::InvalidArgument("--kube-api-server: a URL (https://HOST:PORT), got '" + value + "'");
    o.kube_api.server = value;
  } else if (flag == "--kube-api-ca-file") {
    o.kube_api.ca_file = value;
  } else if (flag == "--kube-api-token-file") {
    o.kube_api.token_file = value;
  } else if (flag == "--pod-token-cache-ttl") {
    GPUPOOL_ASSIGN_OR_RETURN(o.pod_token_cache_ms, ParseDuration(flag, value));
    if (o.pod_token_cache_ms > 60'000) return Status::InvalidArgument("--pod-token-cache-ttl: at most 60s");
  } else if (flag == "--share-table-fd") {
    GPUPOOL_ASSIGN_OR_RETURN(std::uint64_t fd, ParseNumber(flag, value));
    o.share_table_fd = static_cast<int>(fd);
  } else if (flag == "--ipc-directory-fd") {
    GPUPOOL_ASSIGN_OR_RETURN(std::uint64_t fd, ParseNumber(flag, value));
    o.ipc_directory_fd = static_cast<int>(fd);
  } else if (flag == "--session-worker") {
    o.role = ServerOptions::Role::kWorker;
    GPUPOOL_ASSIGN_OR_RETURN(std::uint64_t fd, ParseNumber(flag, value));
    o.worker_fd = static_cast<int>(fd);
  } else if (flag == "--stats-fd") {
    GPUPOOL_ASSIGN_OR_RETURN(std::uint64_t fd, ParseNumber(flag, value));
    o.stats_fd = static_cast<int>(fd);
  } else if (flag == "--session-id") {
    GPUPOOL_ASSIGN_OR_RETURN(o.session_id, ParseNumber(flag, value));
  } else {
    return Status::InvalidArgument("unknown flag " + flag);
  }
  return Status::Ok();
}

}  // namespace

Result<ServerOptions> ParseServerArgs(const std::vector<std::string>& args) {
  ServerOptions o;
  bool listen_given = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    if (flag == "--inventory") {
      o.role = ServerOptions::Role::kInventory;
      continue;
    }
    if (flag == "--allow-unauthenticated") {
      o.allow_unauthenticated = true;
      continue;
    }
    if (flag == "--pod-token-review") {
      o.pod_token_review = true;
      continue;
    }
    if (flag == "--unix-gpu-list") {
      o.unix_gpu_list = true;
      continue;
    }
    std::string value;
    if (auto eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    } else {
      if (flag.rfind("--", 0) != 0) return Status::InvalidArgument("unexpected argument '" + flag + "'");
      if (i + 1 >= args.size()) return Status::InvalidArgument(flag + " needs a value");
      value = args[++i];
    }
    GPUPOOL_RETURN_IF_ERROR(Apply(o, flag, value));
    listen_given |= flag == "--listen";
  }
  if (o.device.empty()) return Status::InvalidArgument("--device is required (cuda or emulated)");
  if (o.role != ServerOptions::Role::kBroker) return o;
  if (!listen_given) return Status::InvalidArgument("--listen HOST:PORT is required");
  if (o.emulated_flags_given && o.device != "emulated") {
    return Status::InvalidArgument("--emulated-* and --record-launches need --device emulated");
  }
  if (o.emulated.lost_gpu >= o.emulated.gpus) {
    return Status::InvalidArgument("--emulated-lost-gpu: there is no GPU " +
                                   std::to_string(o.emulated.lost_gpu) + " among --emulated-gpus " +
                                   std::to_string(o.emulated.gpus));
  }
  if (o.tls.cert_file.empty() != o.tls.key_file.empty()) {
    return Status::InvalidArgument("--tls-cert-file and --tls-key-file go together");
  }
  if (!o.tls.client_ca_file.empty() && !o.tls_enabled()) {
    return Status::InvalidArgument("--tls-client-ca-file needs --tls-cert-file and --tls-key-file");
  }
  const bool api_flags =
      !o.kube_api.server.empty() || !o.kube_api.ca_file.empty() || !o.kube_api.token_file.empty();
  if (api_flags && !o.pod_token_review) {
    return Status::InvalidArgument("--kube-api-* configure --pod-token-review, which is not given");
  }
  if (o.kube_api.server.empty() && (!o.kube_api.ca_file.empty() || !o.kube_api.token_file.empty())) {
    return Status::InvalidArgument(
        "--kube-api-ca-file and --kube-api-token-file go with --kube-api-server (in cluster the service "
        "account's are used)");
  }
  if (o.tls_enabled() && o.listen.kind != Endpoint::Kind::kTcp) {
    return Status::InvalidArgument("TLS is for TCP: --listen must be HOST:PORT with --tls-cert-file");
  }
  if ((o.unix_mode || o.unix_gpu_list) && !o.unix_socket)
    return Status::InvalidArgument(std::string(o.unix_mode ? "--unix-mode" : "--unix-gpu-list") +
                                   " needs --unix");
  // A socket others may write to is a door for every local user (and, in Kubernetes, every pod given
  // the folder): the same rule as a TCP port beyond loopback (RestrictToLoopback).
  if (o.unix_mode && (*o.unix_mode & 0022) != 0 && !o.authenticates_clients() && !o.allow_unauthenticated) {
    return Status::InvalidArgument(
        "--unix-mode lets other users connect, but no client authentication is configured (--token-file, "
        "--tls-client-ca-file, --pod-token-review); add one, or --allow-unauthenticated");
  }
  if (!o.control_listen && o.listen.kind == Endpoint::Kind::kTcp && o.listen.port != 0 &&
      o.listen.port != 65535) {
    Endpoint control = o.listen;
    control.port = static_cast<std::uint16_t>(o.listen.port + 1);
    o.control_listen = control;
  }
  return o;
}

namespace {

std::vector<std::string> DeviceArgs(const ServerOptions& o) {
  std::vector<std::string> a = {"--device", o.device};
  if (!o.cuda_library.empty()) a.insert(a.end(), {"--cuda-library", o.cuda_library});
  if (o.device == "emulated") {
    a.insert(a.end(), {"--emulated-gpus", std::to_string(o.emulated.gpus), "--emulated-memory",
                       std::to_string(o.emulated.memory_bytes)});
    if (!o.emulated.uuid_seed.empty()) a.insert(a.end(), {"--emulated-uuid-seed", o.emulated.uuid_seed});
    if (o.emulated.lost_gpu >= 0)
      a.insert(a.end(), {"--emulated-lost-gpu", std::to_string(o.emulated.lost_gpu)});
    if (!o.emulated.record_launches_path.empty()) {
      a.insert(a.end(), {"--record-launches", o.emulated.record_launches_path});
    }
    if (o.emulated.kernel_time_ns != 0) {
      a.insert(a.end(),
               {"--emulated-kernel-time", std::to_string(o.emulated.kernel_time_ns / 1'000'000) + "ms"});
    }
  }
  return a;
}

}  // namespace

std::vector<std::string> WorkerArgs(const ServerOptions& o, const WorkerSession& w) {
  std::vector<std::string> a = {"--session-worker",         std::to_string(w.fd), "--stats-fd",
                                std::to_string(w.stats_fd), "--session-id",       std::to_string(w.id)};
  a.insert(a.end(), {"--share-idle", o.share_idle ? "on" : "off"});
  if (o.kernel_timeout_ms != 0)
    a.insert(a.end(), {"--kernel-timeout", std::to_string(o.kernel_timeout_ms) + "ms"});
  a.insert(a.end(), {"--spin-us", std::to_string(o.spin_us)});
  a.insert(a.end(), {"--session-mapped-memory", std::to_string(o.session_mapped_memory)});
  if (!o.image_cache_dir.empty()) {
    a.insert(a.end(), {"--image-cache-dir", o.image_cache_dir, "--image-cache-size",
                       std::to_string(o.image_cache_bytes)});
  }
  if (w.share_table_fd >= 0) {
    a.insert(a.end(), {"--share-table-fd", std::to_string(w.share_table_fd)});
  }
  if (w.ipc_directory_fd >= 0) a.insert(a.end(), {"--ipc-directory-fd", std::to_string(w.ipc_directory_fd)});
  if (w.broker_fd >= 0) {
    a.insert(a.end(), {"--broker-fd", std::to_string(w.broker_fd), "--tls-cert-file", o.tls.cert_file,
                       "--tls-key-file", o.tls.key_file});
    if (!o.tls.client_ca_file.empty()) a.insert(a.end(), {"--tls-client-ca-file", o.tls.client_ca_file});
  }
  auto d = DeviceArgs(o);
  a.insert(a.end(), d.begin(), d.end());
  return a;
}

std::string RestrictToLoopback(ServerOptions& o) {
  if (o.authenticates_clients() || o.allow_unauthenticated) return "";
  // Each of the data and Control addresses that is TCP beyond loopback moves to the loopback address
  // of its family, same port: the Control API (admissions, revocations) needs the same door.
  std::string changed;
  for (Endpoint* e : {&o.listen, o.control_listen ? &*o.control_listen : nullptr}) {
    if (e == nullptr || e->kind != Endpoint::Kind::kTcp || e->is_loopback()) continue;
    const std::string asked = e->ToString();
    e->host = e->host.find(':') != std::string::npos ? "::1" : "127.0.0.1";
    changed += (changed.empty() ? "" : ", ") + e->ToString() + " instead of " + asked;
  }
  if (changed.empty()) return "";
  return "no client authentication configured (--token-file, --tls-client-ca-file): serving loopback and "
         "Unix sockets only, " +
         changed + " (--allow-unauthenticated to listen there anyway)";
}

std::vector<std::string> InventoryArgs(const ServerOptions& o) {
  std::vector<std::string> a = {"--inventory"};
  auto d = DeviceArgs(o);
  a.insert(a.end(), d.begin(), d.end());
  return a;
}

}  // namespace gpupool::server

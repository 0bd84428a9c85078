#include "remoting/server/worker.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "common/log.h"
#include "remoting/protocol/frame_reader.h"
#include "remoting/protocol/handshake.h"
#include "remoting/protocol/transport.h"
#include "remoting/server/compute_share.h"
#include "remoting/server/dispatch.h"
#include "remoting/server/ipc_directory.h"
#include "remoting/server/output_capture.h"
#include "remoting/server/session.h"
#include "remoting/server/session_stats.h"
#include "remoting/server/share_table.h"
#include "remoting/server/stat_reasons.h"
#include "remoting/server/tls_handshake.h"
#include "remoting/server/watchdog.h"

namespace gpupool::server {
namespace {

volatile std::sig_atomic_t g_connection_fd = -1;

// Revocation: the broker sets stats->revoked and sends SIGTERM. Shutting the read side down wakes
// the blocked receive (async-signal-safe), and the loop then says why the session ends.
void OnTerminate(int) {
  if (g_connection_fd >= 0) ::shutdown(g_connection_fd, SHUT_RD);
}

void SendError(protocol::Connection& conn, Code code, const std::string& message) {
  (void)conn.SendFrame(protocol::kOpError, protocol::kFlagReply, 0, {protocol::EncodeError({code, message})});
}

// Leaves why the session ended where the broker reads it when it reaps this process.
void SayWhy(SessionStats* stats, SessionEnd reason) {
  if (stats != nullptr) stats->end_reason = static_cast<std::uint32_t>(reason);
}

// The admitted GPUs' UUIDs, comma-separated, for CUDA_VISIBLE_DEVICES; "" when the session has no GPU
// in particular (it sees every GPU of the server).
std::string VisibleGpus(const SessionStats* stats) {
  std::string list;
  for (std::uint32_t i = 0; stats != nullptr && i < stats->gpu_count(); ++i) {
    if (stats->gpus[i].Uuid().empty()) continue;
    list += (list.empty() ? "" : ",") + std::string(stats->gpus[i].Uuid());
  }
  return list;
}

}  // namespace

Result<std::unique_ptr<Backend>> OpenBackend(const std::string& device, const std::string& cuda_library,
                                             const EmulatedConfig& emulated) {
  if (device == "cuda") return OpenCudaBackend(cuda_library);
  if (device == "emulated") return OpenEmulatedBackend(emulated);
  return Status::InvalidArgument("unknown device '" + device + "'");
}

int RunWorker(const WorkerOptions& options) {
  SetLogComponent("gpupool-server[session " + std::to_string(options.session_id) + "]");
  protocol::Connection conn(options.connection_fd);
  g_connection_fd = options.connection_fd;
  // The client's next request often comes within microseconds of the reply (a synchronous call after
  // another): polling for it skips a sleep and wake-up that costs more on idle cores (read-spin.md).
  conn.SetReadSpin(std::chrono::microseconds(options.spin_us));
  struct sigaction action {};
  action.sa_handler = OnTerminate;
  ::sigaction(SIGTERM, &action, nullptr);
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ::sigprocmask(SIG_UNBLOCK, &term, nullptr);  // SpawnSelf kept it blocked (and pending) until now

  SessionStats* stats = nullptr;
  Result<SharedStats> shared = Status::NotFound("no stats");
  if (options.stats_fd >= 0) {
    shared = SharedStats::Map(options.stats_fd);
    if (shared.ok()) stats = shared->get();
  }

  if (options.broker_fd >= 0) {
    Status admitted = WorkerTlsHandshake(conn, options.tls, options.broker_fd);
    ::close(options.broker_fd);
    if (!admitted.ok()) {
      GPUPOOL_LOG(kInfo) << "TLS session not started: " << admitted.ToString();
      return 1;
    }
    GPUPOOL_LOG(kDebug) << "TLS: " << conn.tls()->Describe();
  }

  // A pod sees only the GPUs it was admitted on, as ordinals 0, 1, … in its binding's order: the
  // driver (and the emulated device) read CUDA_VISIBLE_DEVICES when they open, and nothing in this
  // process has opened them yet.
  const std::string visible = VisibleGpus(stats);
  if (!visible.empty()) ::setenv("CUDA_VISIBLE_DEVICES", visible.c_str(), 1);
  // Device printf: the driver writes it to this process's stdout (stdio) at synchronisations; it
  // belongs on the application's stdout, so stdout becomes a pipe whose text goes to the client
  // before each reply. Before the driver opens, so it never sees another stdout. Logs use stderr.
  auto output =
      OutputCapture::Start(STDOUT_FILENO, protocol::kMaxBufferedOutput, [] { std::fflush(stdout); });
  if (!output.ok()) {
    GPUPOOL_LOG(kWarn) << "device printf stays in the server's output: " << output.status().ToString();
  }
  auto backend = OpenBackend(options.device, options.cuda_library, options.emulated);
  if (!backend.ok()) {
    GPUPOOL_LOG(kError) << "cannot open the " << options.device << " device: " << backend.status().ToString();
    SendError(conn, Code::kUnavailable, "server cannot open its device: " + backend.status().message());
    SayWhy(stats, SessionEnd::kDeviceError);
    return 1;
  }
  const DriverApi& api = (*backend)->api();
  if (api.cuInit != nullptr && api.cuInit(0) != CUDA_SUCCESS) {
    SendError(conn, Code::kUnavailable, "cuInit failed on the server");
    SayWhy(stats, SessionEnd::kDeviceError);
    return 1;
  }

  Session session(api, stats);
  const ImageStore image_store(options.image_cache_dir, options.image_cache_bytes);
  if (!options.image_cache_dir.empty()) session.images.set_store(&image_store);
  session.backend = backend->get();
  session.mapped_limit = options.mapped_memory;
  Result<IpcDirectory> ipc = Status::NotFound("no interprocess directory");
  if (options.ipc_directory_fd >= 0) ipc = IpcDirectory::Map(options.ipc_directory_fd);
  if (ipc.ok()) {
    session.ipc = &*ipc;
    session.session_id = options.session_id;
  }
  Result<ShareTable> table = Status::NotFound("no share table");
  if (options.share_table_fd >= 0) table = ShareTable::Map(options.share_table_fd);
  // One compute share per admitted GPU (one for all when the session has no GPU in particular).
  std::vector<std::unique_ptr<ComputeShare>> compute;
  std::vector<KernelClock*> clocks;
  for (std::size_t i = 0; i < session.memory_limits.size(); ++i) {
    SessionGpu* gpu = session.StatsFor(static_cast<int>(i));
    ComputeShareOptions share;
    share.percent = gpu != nullptr ? gpu->percent.load() : 0;
    share.use_idle = options.share_idle;
    share.table = table.ok() ? &*table : nullptr;
    share.slot = gpu != nullptr ? gpu->share_slot.load() : ShareTable::kNoSlot;
    share.stats = gpu;
    compute.push_back(std::make_unique<ComputeShare>(api, share));
    session.compute.push_back(compute.back().get());
    clocks.push_back(&compute.back()->clock());
  }
  // Also without a limit: its thread keeps the busy-time counters current between launches.
  auto watchdog =
      std::make_unique<Watchdog>(std::chrono::milliseconds(options.kernel_timeout_ms), clocks, &conn);
  session.watchdog = watchdog.get();
  if (output.ok()) session.output = output->get();

  protocol::FrameReader reader(&conn);
  Status end;
  bool read_failed = false;
  while (true) {
    auto header = reader.Header();
    if (!header.ok()) {
      end = header.status();
      read_failed = true;
      // A header that does not decode is the only protocol violation the reader reports.
      if (end.code() == Code::kInvalidArgument && stats != nullptr)
        stats->protocol_error = static_cast<std::uint32_t>(ProtocolError::kFrame);
      break;
    }
    auto payload = reader.Take(HeadBytes(*header));
    if (!payload.ok()) {
      end = payload.status();
      read_failed = true;
      break;
    }
    session.deferred_tail = reader.left() > 0 ? &reader : nullptr;
    end = Dispatch(session, conn, *header, *payload);
    session.deferred_tail = nullptr;
    // A deferred tail the handler did not take (a refused chunk, a latched error) is read and
    // dropped; a receive that failed inside the handler ends the session.
    if (end.ok() && reader.left() > 0) end = reader.Take(reader.left()).status();
    if (end.ok()) end = reader.broken();
    if (!end.ok()) {
      read_failed = read_failed || !reader.broken().ok() || reader.left() > 0;
      break;
    }
  }
  int code = 1;
  if (watchdog->fired()) {
    // A kernel is still running past the limit: no clean-up that would wait for it. The driver
    // frees the session's memory and work when the process exits.
    SendError(conn, Code::kDeadlineExceeded, watchdog->reason());
    ::_exit(Watchdog::kExitCode);
  }
  if (stats != nullptr && stats->revoked.load() != 0) {
    std::string reason(stats->revoke_reason, strnlen(stats->revoke_reason, sizeof stats->revoke_reason));
    bool stopping = stats->revoked.load() == SessionStats::kServerStopping;
    SayWhy(stats, stopping ? SessionEnd::kServerStopping : SessionEnd::kRevoked);
    SendError(conn, stopping ? Code::kUnavailable : Code::kPermissionDenied,
              (stopping ? "session ended: " : "session revoked: ") + reason);
    GPUPOOL_LOG(kInfo) << "session ended by the broker: " << reason;
  } else if (end.code() == Code::kInvalidArgument) {
    GPUPOOL_LOG(kWarn) << "ending session: " << end.message();
    SendError(conn, Code::kInvalidArgument, end.message());
    SayWhy(stats, SessionEnd::kProtocolError);
  } else {
    GPUPOOL_LOG(kInfo) << "session ended: " << end.message();
    // An orderly close between frames is the client ending its session; anything else (a reset, a
    // keepalive timeout, EOF inside a frame, a reply that could not be sent) lost the client.
    bool closed = read_failed && conn.peer_closed() && !reader.mid_frame();
    SayWhy(stats, closed ? SessionEnd::kClosed : SessionEnd::kClientLost);
    code = 0;
  }
  session.ReleaseAll();
  return code;
}

}  // namespace gpupool::server

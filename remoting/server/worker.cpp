#include "remoting/server/worker.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <memory>

#include "common/log.h"
#include "remoting/protocol/frame_reader.h"
#include "remoting/protocol/handshake.h"
#include "remoting/protocol/transport.h"
#include "remoting/server/compute_share.h"
#include "remoting/server/dispatch.h"
#include "remoting/server/session.h"
#include "remoting/server/session_stats.h"
#include "remoting/server/share_table.h"
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

  auto backend = OpenBackend(options.device, options.cuda_library, options.emulated);
  if (!backend.ok()) {
    GPUPOOL_LOG(kError) << "cannot open the " << options.device << " device: " << backend.status().ToString();
    SendError(conn, Code::kUnavailable, "server cannot open its device: " + backend.status().message());
    return 1;
  }
  const DriverApi& api = (*backend)->api();
  if (api.cuInit != nullptr && api.cuInit(0) != CUDA_SUCCESS) {
    SendError(conn, Code::kUnavailable, "cuInit failed on the server");
    return 1;
  }

  Session session(api, options.memory_limit, stats);
  Result<ShareTable> table = Status::NotFound("no share table");
  if (options.share_table_fd >= 0) table = ShareTable::Map(options.share_table_fd);
  ComputeShareOptions share;
  share.percent = options.percent;
  share.use_idle = options.share_idle;
  share.table = table.ok() ? &*table : nullptr;
  share.slot = options.share_slot;
  share.stats = stats;
  ComputeShare compute(api, share);
  session.compute = &compute;
  // Also without a limit: its thread keeps the busy-time counter current between launches.
  auto watchdog = std::make_unique<Watchdog>(std::chrono::milliseconds(options.kernel_timeout_ms),
                                             &compute.clock(), &conn);
  session.watchdog = watchdog.get();

  protocol::FrameReader reader(&conn);
  Status end;
  while (true) {
    std::string_view payload;
    auto header = reader.Next(&payload);
    if (!header.ok()) {
      end = header.status();
      break;
    }
    end = Dispatch(session, conn, *header, payload);
    if (!end.ok()) break;
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
    SendError(conn, stopping ? Code::kUnavailable : Code::kPermissionDenied,
              (stopping ? "session ended: " : "session revoked: ") + reason);
    GPUPOOL_LOG(kInfo) << "session ended by the broker: " << reason;
  } else if (end.code() == Code::kInvalidArgument) {
    GPUPOOL_LOG(kWarn) << "ending session: " << end.message();
    SendError(conn, Code::kInvalidArgument, end.message());
  } else {
    GPUPOOL_LOG(kInfo) << "session ended: " << end.message();
    code = 0;
  }
  session.ReleaseAll();
  return code;
}

}  // namespace gpupool::server

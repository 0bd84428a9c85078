#include "remoting/server/watchdog.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "common/log.h"
#include "remoting/protocol/handshake.h"
#include "remoting/server/share_table.h"

namespace gpupool::server {

Watchdog::Watchdog(std::chrono::milliseconds limit, std::vector<KernelClock*> clocks,
                   protocol::Connection* conn)
    : limit_(limit), clocks_(std::move(clocks)), conn_(conn), thread_([this] { Loop(); }) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  thread_.join();
}

void Watchdog::EnterCall() {
  std::lock_guard<std::mutex> lock(call_mu_);
  in_call_ = true;
}

void Watchdog::LeaveCall() {
  std::lock_guard<std::mutex> lock(call_mu_);
  in_call_ = false;
}

std::string Watchdog::reason() const {
  return fired_.load() ? reason_ : std::string();
}

void Watchdog::Loop() {
  // Looks a few times per limit: a kernel is caught within a quarter of the limit after it (at
  // most 250 ms), far inside the 5 s the client may wait for its error.
  const auto period = limit_.count() == 0 ? std::chrono::milliseconds(250)
                                          : std::clamp(limit_ / 4, std::chrono::milliseconds(10),
                                                       std::chrono::milliseconds(250));
  std::unique_lock<std::mutex> lock(stop_mu_);
  while (!stop_cv_.wait_for(lock, period, [this] { return stop_; })) {
    std::uint64_t running = 0;
    for (KernelClock* clock : clocks_) running = std::max(running, clock->RunningNs(ShareTable::NowNs()));
    if (limit_.count() > 0 &&
        running > static_cast<std::uint64_t>(std::chrono::nanoseconds(limit_).count())) {
      lock.unlock();
      Fire(running);
      return;
    }
  }
}

void Watchdog::Fire(std::uint64_t running_ns) {
  reason_ = "a kernel ran for " + std::to_string(running_ns / 1'000'000) +
            " ms, longer than the server's --kernel-timeout of " + std::to_string(limit_.count()) +
            " ms; the session was ended";
  GPUPOOL_LOG(kWarn) << "watchdog: " << reason_;
  {
    std::lock_guard<std::mutex> lock(call_mu_);
    if (in_call_) {
      // The session's thread is in a call (stuck in the driver, most likely) and cannot send.
      (void)conn_->SendFrame(protocol::kOpError, protocol::kFlagReply, 0,
                             {protocol::EncodeError({Code::kDeadlineExceeded, reason_})});
      ::_exit(kExitCode);  // with call_mu_ held: the session's thread never sends again
    }
    fired_ = true;
  }
  ::shutdown(conn_->fd(), SHUT_RD);  // wakes the session's thread from its read: it sends and exits
  std::this_thread::sleep_for(kGrace);
  ::_exit(kExitCode);
}

}  // namespace gpupool::server

// ServerHealth: decides when a GPU server that stopped answering its Control API has failed, so
// that its GPUs are marked unhealthy (GPUPool.status, no new placements, Events on the pods that
// held shares there). A server fails once it has not answered for `unhealthy_after`; one failed
// probe is not enough (a restart, a dropped packet), so shares do not flap.
//
// The silence is measured from the server's last answer seen in this leadership term, or from its
// first probe of the term when none was. A server the previous leader published as failed stays
// failed until it answers: a new term gives it no fresh grace period.
//
// Thread-safety: Observe may be called from several pool workers at once (one internal mutex).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace gpupool::controllers {

class ServerHealth {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ServerHealth(std::chrono::milliseconds unhealthy_after) : unhealthy_after_(unhealthy_after) {}

  // What GPUPool.status said about a server when this term started.
  struct Published {
    bool failed = false;
    std::string since;  // its unreachableSince
  };
  struct Verdict {
    bool failed = false;     // silent for unhealthy_after: its GPUs are unhealthy
    bool recovered = false;  // answered, and had failed before
    std::string since;       // RFC 3339 time of the first failed probe of this silence; "" when answering
    std::chrono::milliseconds recheck{0};  // > 0: still in grace; probe again this soon to decide
  };

  // Records one probe of `server` (its data address): answered or not, at `now` (`wall` is now as
  // RFC 3339). `published` is consulted the first time a server is seen in this term.
  Verdict Observe(const std::string& server, bool answered, Clock::time_point now, const std::string& wall,
                  const Published& published);

 private:
  struct Track {
    Clock::time_point last_answer;
    std::string since;
    bool failed = false;
  };
  const std::chrono::milliseconds unhealthy_after_;
  std::mutex mu_;
  std::map<std::string, Track> servers_;
};

}  // namespace gpupool::controllers

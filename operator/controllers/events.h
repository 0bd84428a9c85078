// EventRecorder: core/v1 Events on pods and pools ("why is my pod still gated?", "which pods lost
// their GPU?"), as kubectl describe and kubectl events show them. core/v1 rather than
// events.k8s.io/v1 because both kubectl and the fake API server read core/v1 (kubectl describe
// searches core/v1 by involvedObject).
//
// Repeats are aggregated as client-go's recorders do: the first occurrence of (object, type,
// reason, message) creates an Event; a repeat within `series_window` of the previous one counts
// into that Event (merge patch of count and lastTimestamp) instead of creating another, so a pod
// waiting for capacity shows "(x12 over 6m)" rather than twelve Events. Like client-go's series,
// repeats are written at most every `min_update` per Event; counted repeats not yet written go out
// with the next repeat or the next FlushDue. An Event deleted meanwhile (TTL) is created afresh.
// Recording never fails the caller: a failed write is logged once and forgotten.
//
// Thread-safety: Record and FlushDue may be called from any thread; no lock is held while writing.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "common/kube/client.h"

namespace gpupool::controllers {

struct EventOptions {
  std::chrono::milliseconds series_window{std::chrono::minutes(10)};
  // One write per Event per 5 min: the rate of client-go's spam filter (after its burst), and of
  // this recorder before it aggregated, so a long-waiting pod costs no more API writes than before.
  std::chrono::milliseconds min_update{std::chrono::minutes(5)};
};

class EventRecorder {
 public:
  EventRecorder(kube::Client& client, std::string instance, EventOptions options = {})
      : client_(client), instance_(std::move(instance)), options_(options) {}

  // `object` is the pod or GPUPool; `type` "Normal" or "Warning". Events of cluster-scoped objects
  // go to namespace "default", as the API server's own do.
  void Record(const kube::Resource& kind, const kube::Json& object, const std::string& type,
              const std::string& reason, const std::string& message);
  // Writes counted repeats whose `min_update` has passed, and forgets series idle for longer than
  // `series_window`. Called periodically (the pool controller calls it at every reconcile).
  void FlushDue();
  // Event writes that succeeded (creations and count updates).
  long written() const;

 private:
  struct Series {
    std::string ns, name;  // the Event object
    std::string event;  // as created, serialised (a tenth of a Json's memory); a re-creation starts from it
    int count = 1, written_count = 0;
    std::string last_timestamp;
    std::chrono::steady_clock::time_point last_seen, last_write;
    bool in_flight = false;  // a write of this series is under way (its thread writes what it counted)
  };
  // Writes the series `key` (create when written_count is 0, else a count update) until what it
  // counted is written or the series is due later. Call with mu_ unlocked; the series is in flight.
  void Write(const std::string& key);

  kube::Client& client_;
  const std::string instance_;
  const EventOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, Series> series_;  // by uid|type|reason|message
  long written_ = 0;
};

// RFC 3339 UTC with seconds, as metav1.Time serialises.
std::string NowRfc3339();

}  // namespace gpupool::controllers

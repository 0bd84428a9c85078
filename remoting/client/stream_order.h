// StreamOrder: stream order kept on the client for work that cannot run on the server (host
// functions, stream callbacks, graph host nodes; remoting/client/README.md, "Host functions").
//
// A host step (wait until the stream's earlier work is done on the server, then run the program's
// function here) *holds* its stream: every later operation on that stream is queued on the client
// and sent only after the step returned, so the GPU cannot start it earlier. Each held stream has
// a worker thread that runs its queue in order. Dependencies between streams follow:
//  - an operation may wait for another stream's queue (StreamWaitEvent on an event whose record is
//    still queued; the legacy NULL stream and blocking streams, which wait for each other);
//  - synchronising calls wait (Drain*) until what was queued before them has been sent.
// Every queued item gets a ticket from one counter and only ever waits for items with smaller
// tickets, so the waits cannot form a cycle. A host step's function that calls CUDA waits only for
// items older than the step itself (which never wait for it): such calls never deadlock.
//
// Streams that never held anything pay one relaxed atomic load per operation (active()).
//
// Thread-safety: all methods are safe from any thread. Items run on the stream's worker thread.
#pragma once

#include <cuda.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace gpupool::client {

// A stream as the wire names it: server context id and wire stream id (0 NULL, 1 legacy, 2 per-thread).
struct StreamKey {
  std::uint64_t context = 0;
  std::uint64_t stream = 0;
  auto operator<=>(const StreamKey&) const = default;
  bool legacy() const { return stream == 0 || stream == 1; }
};

// What waits for what: every item queued on `key` with a ticket below `below` has run (below 0:
// everything queued on it when the dependency is made).
struct StreamDep {
  StreamKey key;
  std::uint64_t below = 0;
};

class StreamOrder {
 public:
  StreamOrder() = default;
  // Waits for the workers to finish their queues (the process-wide instance is never destroyed).
  ~StreamOrder();
  StreamOrder(const StreamOrder&) = delete;
  StreamOrder& operator=(const StreamOrder&) = delete;

  // False while no stream holds anything: callers then send directly without locking.
  bool active() const { return busy_.load(std::memory_order_acquire) != 0; }

  // Runs `send` now when `key` holds nothing and `deps` (plus the legacy-stream rules) wait for
  // nothing queued; otherwise queues it (*ticket = its ticket) and returns CUDA_SUCCESS: an error
  // of a queued send is latched (TakeLatched). `blocking` is false for CU_STREAM_NON_BLOCKING
  // streams, which do not wait for the legacy NULL stream nor it for them.
  CUresult Submit(const StreamKey& key, bool blocking, std::function<CUresult()> send,
                  std::vector<StreamDep> deps = {}, std::uint64_t* ticket = nullptr);
  // Queues a host step: `step` runs on the stream's worker once everything queued before it ran.
  void SubmitHost(const StreamKey& key, bool blocking, std::function<void()> step);
  // Queues `send` as the stream's last item; the worker then ends (cuStreamDestroy on a held stream).
  // Returns false (nothing queued) when the stream holds nothing: the caller sends it now.
  bool SubmitLast(const StreamKey& key, std::function<CUresult()> send);

  // Whether every item on `key` with a ticket below `below` has run (0: everything queued so far).
  bool Done(const StreamKey& key, std::uint64_t below = 0);
  // Waits until the items queued on `key` before now have run. A host step's thread waits only for
  // items older than its step; CUDA_ERROR_NOT_PERMITTED when that is not enough for `dep`.
  CUresult Wait(const StreamDep& dep);
  void Drain(const StreamKey& key) { (void)Wait({key, 0}); }
  // Drains every stream of `context` (only the blocking ones when `blocking_only`).
  void DrainContext(std::uint64_t context, bool blocking_only);

  // An error of a queued operation or of a host step's stream, returned by the program's next
  // synchronising call (as the server returns latched errors).
  void Latch(CUresult error);
  CUresult TakeLatched();

 private:
  struct Item {
    std::uint64_t ticket = 0;
    std::function<void()> run;
    std::vector<StreamDep> deps;
    bool last = false;
  };
  struct Queue {
    StreamKey key;
    bool blocking = true;
    std::vector<Item> items;  // items[head..] are pending; items[head] runs first
    std::size_t head = 0;
    bool worker = false;   // a worker thread runs this queue
    bool closing = false;  // the last item is queued: the worker ends after it
  };

  Queue& QueueLocked(const StreamKey& key, bool blocking);
  bool EmptyLocked(const Queue& q) const { return q.head == q.items.size(); }
  bool DoneLocked(const StreamDep& dep) const;
  bool HeadReadyLocked(const Queue& q) const;
  std::uint64_t PushLocked(Queue& q, Item item);
  void LegacyDepsLocked(const StreamKey& key, bool blocking, std::vector<StreamDep>* deps) const;
  void RunQueue(StreamKey key);

  mutable std::mutex mu_;
  std::condition_variable cv_;  // an item ran, or one was queued
  std::map<StreamKey, std::unique_ptr<Queue>> queues_;
  std::uint64_t next_ticket_ = 1;
  bool stopping_ = false;
  int workers_ = 0;           // live worker threads (detached; the destructor waits for 0)
  std::atomic<int> busy_{0};  // queues with pending items
  std::atomic<CUresult> latched_{CUDA_SUCCESS};
};

}  // namespace gpupool::client

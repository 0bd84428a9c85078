// BodyStream: a response body an HttpServer handler produces after it has returned.
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>

namespace gpupool::http {

// A response body sent while it is produced (a Kubernetes watch, say): as HTTP/1.1 chunks, or to an
// HTTP/1.0 client until the connection closes. The handler returns a Response that holds the stream
// and keeps a pointer to it; any thread may then Write, and Close ends the body.
class BodyStream {
 public:
  // False when nobody will read it any more (the connection failed or the server stopped): the data
  // is dropped, and the producer may stop.
  bool Write(std::string data);
  void Close();
  std::size_t Unsent() const;  // bytes written and not yet handed to the connection
  bool Abandoned() const;

  // For the server's connection. `wake` is called, on the writer's thread and without a lock held,
  // when there is something to Take (data or the end).
  void Attach(std::function<void()> wake);
  struct Taken {
    std::string data;
    bool end = false;  // closed, and nothing is left
  };
  Taken Take();
  void Abandon();

 private:
  void Wake(std::unique_lock<std::mutex>& lock);

  mutable std::mutex mu_;
  std::string queued_;
  bool closed_ = false;
  bool abandoned_ = false;
  bool woken_ = false;  // a wake is outstanding: no further one until the next Take
  std::function<void()> wake_;
};

}  // namespace gpupool::http

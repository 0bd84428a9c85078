#include "common/kube/watch_stream.h"

#include <cpprest/containerstream.h>

#include <atomic>

#include "common/kube/errors.h"

namespace gpupool::kube {
namespace {

class HttpWatchStream final : public WatchStream {
 public:
  HttpWatchStream(std::unique_ptr<HttpSession> session, pplx::cancellation_token_source cts,
                  web::http::http_response response)
      : session_(std::move(session)),
        cts_(std::move(cts)),
        response_(std::move(response)),
        body_(response_.body()) {}
  ~HttpWatchStream() override { Cancel(); }

  Result<std::optional<WatchEvent>> Next() override {
    while (true) {
      if (cancelled_) return Status::Cancelled("watch cancelled");
      concurrency::streams::container_buffer<std::string> line;
      size_t n = 0;
      try {
        n = body_.read_line(line).get();
      } catch (const std::exception& e) {
        if (cancelled_) return Status::Cancelled("watch cancelled");
        return TransportError(e, "watch");
      }
      if (cancelled_) return Status::Cancelled("watch cancelled");
      const std::string& text = line.collection();
      if (n == 0 && text.empty()) {
        if (body_.is_eof()) return std::optional<WatchEvent>();  // the server ended the watch cleanly
        continue;                                                // an empty line between events
      }
      auto event = ParseWatchEvent(text);
      if (!event.ok()) return event.status();
      return std::optional<WatchEvent>(std::move(*event));
    }
  }

  void Cancel() override {
    if (cancelled_.exchange(true)) return;
    cts_.cancel();
    try {
      body_.close().wait();
    } catch (...) {  // already closed or failed: nothing more to stop
    }
  }

 private:
  std::unique_ptr<HttpSession> session_;
  pplx::cancellation_token_source cts_;
  web::http::http_response response_;
  concurrency::streams::istream body_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace

Result<WatchEvent> ParseWatchEvent(const std::string& line) {
  Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string() || !j.contains("object")) {
    return Status::InvalidArgument("malformed watch event: " + line.substr(0, 200));
  }
  const std::string& type = j["type"].get_ref<const std::string&>();
  WatchEvent e;
  if (type == "ADDED") {
    e.type = WatchEvent::Type::kAdded;
  } else if (type == "MODIFIED") {
    e.type = WatchEvent::Type::kModified;
  } else if (type == "DELETED") {
    e.type = WatchEvent::Type::kDeleted;
  } else if (type == "BOOKMARK") {
    e.type = WatchEvent::Type::kBookmark;
  } else if (type == "ERROR") {
    e.type = WatchEvent::Type::kError;
  } else {
    return Status::InvalidArgument("unknown watch event type \"" + type + "\"");
  }
  e.object = std::move(j["object"]);
  return e;
}

Result<std::unique_ptr<WatchStream>> OpenWatch(std::unique_ptr<HttpSession> session,
                                               const std::string& path) {
  GPUPOOL_ASSIGN_OR_RETURN(auto req, session->NewRequest(web::http::methods::GET, path));
  pplx::cancellation_token_source cts;
  GPUPOOL_ASSIGN_OR_RETURN(web::http::http_response resp,
                           session->SendStreaming(std::move(req), cts.get_token()));
  if (resp.status_code() != 200) {
    std::string body;
    try {
      body = resp.extract_string(true).get();
    } catch (const std::exception&) {
    }
    int retry = 0;
    std::string ra;
    if (resp.headers().match("Retry-After", ra)) retry = std::atoi(ra.c_str());
    return StatusFromHttp(resp.status_code(), body, retry).Annotate("watch " + path);
  }
  return std::unique_ptr<WatchStream>(
      new HttpWatchStream(std::move(session), std::move(cts), std::move(resp)));
}

}  // namespace gpupool::kube

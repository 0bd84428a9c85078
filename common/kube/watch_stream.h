// The HTTP implementation of WatchStream: a chunked GET ?watch=1 read line by line (one JSON event
// per line, k8s-api-facts §5.2) on its own connection.
//
// Thread-safety: Next() from one thread; Cancel() from any.
#pragma once

#include <memory>
#include <string>

#include "common/kube/client.h"
#include "common/kube/http_session.h"

namespace gpupool::kube {

// Sends the watch request; a non-200 answer becomes a typed error.
Result<std::unique_ptr<WatchStream>> OpenWatch(std::unique_ptr<HttpSession> session, const std::string& path);

// Parses one event line; InvalidArgument when it is not a watch event.
Result<WatchEvent> ParseWatchEvent(const std::string& line);

}  // namespace gpupool::kube

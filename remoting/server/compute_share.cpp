#include "remoting/server/compute_share.h"

namespace gpupool::server {

ComputeShare::ComputeShare(const DriverApi& api, const ComputeShareOptions& options)
    : options_(options), clock_(api, [stats = options.stats](std::uint64_t ns) {
        if (stats != nullptr) stats->busy_ns += ns;
      }) {
  if (options_.percent >= 1 && options_.percent <= 99) {
    limiter_ = std::make_unique<ShareLimiter>(options_.percent, options_.use_idle, &clock_, options_.table,
                                              options_.slot);
  }
}

}  // namespace gpupool::server

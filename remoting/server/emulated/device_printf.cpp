#include "remoting/server/emulated/device_printf.h"

#include <cstdio>

namespace gpupool::server::emulated {

void QueuePrintf(Context* ctx, const Function& f) {
  if (!f.info->calls_printf) return;
  const auto limit = ctx->limits.find(CU_LIMIT_PRINTF_FIFO_SIZE);
  const std::size_t capacity = limit == ctx->limits.end() ? 0 : limit->second;
  const std::vector<std::string> unknown = {"(format string not in the module)"};
  for (const std::string& format : f.info->printf_formats.empty() ? unknown : f.info->printf_formats) {
    std::string_view text = format;
    if (text.ends_with('\n')) text.remove_suffix(1);
    std::string line = "[emulated printf] kernel " + f.info->name + ": ";
    line.append(text);
    line += '\n';
    if (line.size() > capacity - std::min(capacity, ctx->printf_fifo.size())) return;  // the FIFO is full
    ctx->printf_fifo += line;
  }
}

void FlushPrintf(Context* ctx) {
  if (ctx == nullptr || ctx->printf_fifo.empty()) return;
  (void)std::fwrite(ctx->printf_fifo.data(), 1, ctx->printf_fifo.size(), stdout);
  ctx->printf_fifo.clear();
}

}  // namespace gpupool::server::emulated

// `gpupool run` flags (docs/cli.md): [--server HOST[:PORT]] [--gpus N] [--percent P] [--memory SIZE]
// [--token-file F] [--tls-ca-file F [--tls-server-name NAME]] -- CMD ARGS...
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace gpupool::cli {

struct RunFlags {
  std::string server;              // "host:port" as GPUPOOL_SERVER takes it; empty: start a local server
  int gpus = 1;                    // 1..16
  int percent = 100;               // 1..100
  std::uint64_t memory_bytes = 0;  // 0: the GPU's memory
  std::string token_file;
  std::string tls_ca_file;           // TLS to --server, checked against this CA (absolute path)
  std::string tls_server_name;       // the name the server's certificate must carry; empty: --server's host
  std::vector<std::string> command;  // CMD ARGS
  bool help = false;
};

// Every error is a usage error (exit 2) whose message names the flag.
Result<RunFlags> ParseRunFlags(const std::vector<std::string>& args);

const char* RunHelp();

}  // namespace gpupool::cli

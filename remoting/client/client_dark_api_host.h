// The client's DarkApiHost (remoting/client/dark_api/dark_api_host.h): the private export tables
// answered from the client's State, locally (no round trip), and the process's one DarkApi.
//
// Thread-safety: as State.
#pragma once

#include "remoting/client/dark_api/dark_api.h"

namespace gpupool::client {

// The process's DarkApi over the client's host, created on first use and never destroyed.
dark_api::DarkApi& TheDarkApi();

}  // namespace gpupool::client

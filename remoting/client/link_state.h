// LinkState: a CUlinkState. JIT linking is a client object until cuLinkComplete: the options and
// copies of the inputs (cuLinkAddData copies the bytes, as the driver does) are kept here, and
// completing sends them in one LinkComplete request, each input uploaded once per content hash
// like a module image (module_loader.h), and brings back the linked image and the logs. The image
// stays here until cuLinkDestroy, so cuLinkComplete's cubinOut is valid until then, as in CUDA.
//
// Thread-safety: a LinkState's members are guarded by its mutex; the registry locks itself.
#pragma once

#include <cuda.h>

#include <mutex>
#include <string>
#include <vector>

#include "remoting/client/handles.h"
#include "remoting/client/jit_options.h"

namespace gpupool::client {

struct LinkInput {
  CUjitInputType type = CU_JIT_INPUT_CUBIN;
  std::string name;
  std::string bytes;
};

struct LinkState {
  std::mutex mu;
  JitOptions options;  // the creator's arrays, written at completion
  std::vector<LinkInput> inputs;
  std::string image;  // the linked image, after a successful completion
};

// Every live CUlinkState of the process.
Registry<LinkState>& LinkStates();

// Links `link`'s inputs on the server in context `context`; the image into link.image. The logs and
// other outputs go into the creator's option arrays, on failure too. Call with link.mu held.
CUresult CompleteLink(LinkState& link, std::uint64_t context);

}  // namespace gpupool::client

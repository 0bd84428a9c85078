#include "remoting/protocol/result_names.h"

#include <iterator>

namespace gpupool::protocol {
namespace {

struct ResultInfo {
  std::uint32_t value;
  const char* name;
  const char* description;
};

constexpr ResultInfo kResults[] = {
#define GPUPOOL_CU_ERROR(name, value, description) {value, #name, description},
#include "remoting/protocol/cuda_errors.def"
#undef GPUPOOL_CU_ERROR
};
static_assert(std::size(kResults) == kResultCount);

}  // namespace

std::size_t ResultIndex(std::uint32_t result) {
  for (std::size_t i = 0; i < kResultCount; ++i) {
    if (kResults[i].value == result) return i;
  }
  return kResultCount;
}

std::uint32_t ResultAt(std::size_t index) {
  return kResults[index].value;
}

const char* ResultName(std::uint32_t result) {
  std::size_t i = ResultIndex(result);
  return i < kResultCount ? kResults[i].name : nullptr;
}

const char* ResultString(std::uint32_t result) {
  std::size_t i = ResultIndex(result);
  return i < kResultCount ? kResults[i].description : nullptr;
}

}  // namespace gpupool::protocol

// cuLogs* (CUDA 12.9): the client's driver log (driver_log.h). It needs no server, so these work
// before cuInit, as in CUDA.
#include "remoting/client/api_support.h"
#include "remoting/client/driver_log.h"

namespace {

// From the moment the library is loaded, the warnings and errors the client logs go to the log too.
[[maybe_unused]] const bool kInstalled = (gpupool::client::DriverLog::Install(), true);

gpupool::client::DriverLog& Log() {
  return gpupool::client::DriverLog::Process();
}

}  // namespace

GPUPOOL_API CUresult cuLogsRegisterCallback(CUlogsCallback callbackFunc, void* userData,
                                            CUlogsCallbackHandle* callback_out) {
  return Log().Register(callbackFunc, userData, callback_out);
}

GPUPOOL_API CUresult cuLogsUnregisterCallback(CUlogsCallbackHandle callback) {
  return Log().Unregister(callback);
}

GPUPOOL_API CUresult cuLogsCurrent(CUlogIterator* iterator_out, unsigned int flags) {
  return Log().Current(iterator_out, flags);
}

GPUPOOL_API CUresult cuLogsDumpToFile(CUlogIterator* iterator, const char* pathToFile, unsigned int flags) {
  return Log().DumpToFile(iterator, pathToFile, flags);
}

GPUPOOL_API CUresult cuLogsDumpToMemory(CUlogIterator* iterator, char* buffer, size_t* size,
                                        unsigned int flags) {
  return Log().DumpToMemory(iterator, buffer, size, flags);
}

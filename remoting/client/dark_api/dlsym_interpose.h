// dlsym interposition: libcuda.so.1 exports its own `dlsym`, so that
//   dlsym(handle_of_another_libcuda, "cuXxx")
// answers with gpupool's cuXxx. That happens when a program loads NVIDIA's driver library by a path
// or a name the soname lookup does not map to gpupool's (an absolute path to the real
// libcuda.so.1, say) while gpupool's is already loaded. Lookups of other names, and of driver names
// gpupool does not export, are answered by the real dlsym unchanged.
//
// Our dlsym takes precedence only where the dynamic linker finds it first: when libcuda.so.1 is
// LD_PRELOADed, or linked by the executable before libc. Everywhere else (libcuda.so.1 dlopen-ed by
// the CUDA runtime) the plain soname lookup already makes dlopen("libcuda.so.1") and
// dlopen("libcuda.so", with the libcuda.so link installed) return gpupool's library, and this file
// changes nothing. docs/dark-api.md ("dlsym") records the decision.
//
// dlsym(RTLD_DEFAULT, ...) and dlsym(RTLD_NEXT, ...) depend on who calls: glibc searches the
// caller's scope, and for RTLD_NEXT the objects after the caller. Our dlsym therefore passes those
// two to the real one with a tail jump, so the real dlsym sees the original return address.
//
// Built for x86-64 Linux (the tail jump is assembly); elsewhere this object defines nothing and
// the soname lookup is all there is.
//
// Link the gpupool_dlsym_interpose object library into libcuda.so.1 and keep `dlsym` in its
// exported symbols (version script).
//
// Thread-safety: dlsym may be called from any thread, before and after static initialisation.
#pragma once

namespace gpupool::dark_api {

// What the exported dlsym asks of an explicit handle: true when it is a library named libcuda.so*
// other than the one this code is linked into. Always false where there is no interposition.
bool IsForeignDriverHandle(void* handle);

}  // namespace gpupool::dark_api
